package postgres

import (
	"net/url"
	"regexp"
	"strings"
)

// redactedPassword replaces a password wherever one is shown (the same
// mask url.URL.Redacted uses).
const redactedPassword = "xxxxx"

// malformedDSN is what a DSN too malformed to redact is shown as.
const malformedDSN = "(malformed PostgreSQL DSN)"

// Redact returns dsn with its password masked, for logs and messages. A
// DSN too malformed to tell where its password is comes back as a fixed
// placeholder rather than risk showing it.
func Redact(dsn string) string {
	red, _, _ := redact(dsn)
	return red
}

// kvPassword finds password=VALUE in a libpq key=value DSN (VALUE quoted
// with single quotes and backslash escapes, or up to the next space).
var kvPassword = regexp.MustCompile(`(?i)(^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|[^'\s]\S*|')`)

// redact returns dsn with its password masked, and the password itself
// (empty when there is none). known is false when dsn is too malformed to
// tell; red is then malformedDSN.
func redact(dsn string) (red, secret string, known bool) {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return malformedDSN, "", false
		}
		if pw, ok := u.User.Password(); ok {
			secret = pw
			u.User = url.UserPassword(u.User.Username(), redactedPassword)
		}
		// libpq also takes the password as a query parameter.
		if q := u.Query(); q.Has("password") {
			if secret == "" {
				secret = q.Get("password")
			}
			q.Set("password", redactedPassword)
			u.RawQuery = q.Encode()
		}
		return u.String(), secret, true
	}
	m := kvPassword.FindStringSubmatchIndex(dsn)
	if m == nil {
		if strings.Contains(strings.ToLower(dsn), "password") {
			return malformedDSN, "", false
		}
		return dsn, "", true
	}
	val := dsn[m[4]:m[5]]
	if val == "'" || m[5] < len(dsn) && !strings.ContainsRune(" \t\n\r\f\v", rune(dsn[m[5]])) {
		// An opening quote without its closing one, or text glued to the
		// closing quote: libpq would read it differently.
		return malformedDSN, "", false
	}
	if strings.HasPrefix(val, "'") && len(val) >= 2 && strings.HasSuffix(val, "'") {
		val = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(val[1 : len(val)-1])
	}
	return dsn[:m[4]] + redactedPassword + dsn[m[5]:], val, true
}

// scrub hides secret (and its URL-escaped spellings) in err's message,
// keeping err inspectable with errors.Is and errors.As.
func scrub(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	msg := err.Error()
	clean := msg
	for _, s := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		clean = strings.ReplaceAll(clean, s, redactedPassword)
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
