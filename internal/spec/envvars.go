package spec

import "strings"

// GateTestBaseVars are the variables of the promoter's environment every
// gate test gets, besides the LC_* locale variables and the LADDER_* ones
// that are not secrets: what a command needs to run and nothing that
// grants access. Anything else (a cloud credential, a token) reaches a
// test only when its gate declares it (GateTest.Env), where a reviewer of
// ladder.yaml sees it.
var GateTestBaseVars = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM", "SSL_CERT_FILE", "SSL_CERT_DIR"}

// IsLadderSecretVar reports whether the variable holds or locates one of
// ladder's own secrets: the signing key's password and path, the age keys
// of the environments' secrets, and the API token (LADDER_TOKEN). They never reach a gate test, even
// when declared: whoever can edit ladder.yaml could read them.
func IsLadderSecretVar(name string) bool {
	switch name {
	case "LADDER_SIGNING_PASSWORD", "LADDER_SIGNING_KEY", "LADDER_KEYS_DIR", "LADDER_TOKEN":
		return true
	}
	return strings.HasPrefix(name, "LADDER_KEY_")
}
