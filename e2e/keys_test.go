package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keys generate refuses an empty password unless --no-password says it is
// meant, and a missing LADDER_SIGNING_PASSWORD is reported as missing, not
// as a wrong password.
func TestSigningKeyPasswords(t *testing.T) {
	p := newProject(t)
	t.Setenv("LADDER_SIGNING_PASSWORD", "")
	os.Unsetenv("LADDER_SIGNING_PASSWORD")

	res := p.run("keys", "generate")
	if res.code != 2 || !strings.Contains(res.stderr, "LADDER_SIGNING_PASSWORD is not set: the private key would be protected by an empty password") ||
		!strings.Contains(res.stderr, "--no-password") {
		t.Fatalf("keys generate without a password: %s", res)
	}
	p.env = append(p.env, "LADDER_SIGNING_PASSWORD=")
	if res := p.run("keys", "generate"); res.code != 2 || !strings.Contains(res.stderr, "LADDER_SIGNING_PASSWORD is empty") {
		t.Fatalf("keys generate with an empty password: %s", res)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "ladder.pub")); err == nil {
		t.Fatal("a refused keys generate wrote ladder.pub")
	}
	p.env[len(p.env)-1] = "LADDER_SIGNING_PASSWORD=correct horse"
	if res := p.run("keys", "generate", "--no-password"); res.code != 2 || !strings.Contains(res.stderr, "choose one") {
		t.Fatalf("keys generate --no-password with a password set: %s", res)
	}
	if res := p.run("keys", "generate"); res.code != 0 {
		t.Fatalf("keys generate: %s", res)
	}
	// A second generate leaves the pair as it was.
	priv := filepath.Join(p.dir, ".ladder", "keys", "signing.key")
	before, err := os.ReadFile(priv)
	if err != nil {
		t.Fatal(err)
	}
	if res := p.run("keys", "generate"); res.code != 2 || !strings.Contains(res.stderr, "exists: ladder does not overwrite signing keys") {
		t.Fatalf("keys generate over a pair: %s", res)
	}
	if after, err := os.ReadFile(priv); err != nil || string(after) != string(before) {
		t.Fatalf("keys generate over a pair changed the private key (%v)", err)
	}

	// ladder up without the password: the snapshot runs unsigned, and the
	// warning says why.
	p.env = p.env[:len(p.env)-1]
	res = p.run("up", "-d", "--dashboard", "127.0.0.1:0")
	if res.code != 0 {
		t.Fatalf("up: %s", res)
	}
	if !strings.Contains(res.stderr, "not signed: signing key") || !strings.Contains(res.stderr, "LADDER_SIGNING_PASSWORD is not set") ||
		strings.Contains(res.stderr, "wrong password") {
		t.Errorf("up without LADDER_SIGNING_PASSWORD warns:\n%s", res.stderr)
	}
	snaps := p.run("snapshots", "-o", "json")
	id := between(snaps.stdout, `"id":"`, `"`)
	if id == "" {
		id = between(snaps.stdout, `"id": "`, `"`)
	}
	if id == "" {
		t.Fatalf("no snapshot ID in %s", snaps)
	}
	p.env = append(p.env, "LADDER_SIGNING_PASSWORD=battery staple")
	if res := p.run("sign", id); res.code == 0 || !strings.Contains(res.stderr, "wrong password") {
		t.Errorf("sign with a wrong password: %s", res)
	}

	// A test key made with --no-password signs with the variable unset.
	p.env = p.env[:len(p.env)-1]
	for _, f := range []string{filepath.Join(p.dir, "ladder.pub"), filepath.Join(p.dir, ".ladder", "keys", "signing.key")} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if res := p.run("keys", "generate", "--no-password"); res.code != 0 {
		t.Fatalf("keys generate --no-password: %s", res)
	}
	if res := p.run("sign", id); res.code != 0 || !strings.Contains(res.stdout, "signed snapshot") {
		t.Errorf("sign with a --no-password key: %s", res)
	}
	if res := p.run("verify", id); res.code != 0 {
		t.Errorf("verify: %s", res)
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	j := strings.Index(s, end)
	if j < 0 {
		return ""
	}
	return s[:j]
}
