package secrets

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
)

// newStore returns a store on a fresh project with its keys outside it, and
// makes sure no key variable leaks in from the environment.
func newStore(t *testing.T, envs ...string) (*Store, string) {
	t.Helper()
	for _, env := range envs {
		t.Setenv(KeyEnvVar(env), "")
	}
	project := t.TempDir()
	return Open(project, filepath.Join(t.TempDir(), "keys")), project
}

func mustInit(t *testing.T, s *Store, env string) string {
	t.Helper()
	r, err := s.InitEnv(env)
	if err != nil {
		t.Fatalf("InitEnv(%q): %v", env, err)
	}
	return r
}

func mustSet(t *testing.T, s *Store, env, name, value string) {
	t.Helper()
	if err := s.Set(env, name, []byte(value)); err != nil {
		t.Fatalf("Set(%q, %q): %v", env, name, err)
	}
}

func TestInitEnv(t *testing.T) {
	s, project := newStore(t, "dev", "prod")
	r1 := mustInit(t, s, "dev")
	if !strings.HasPrefix(r1, "age1") {
		t.Fatalf("recipient %q is not an age X25519 recipient", r1)
	}
	keyPath := s.keyPath("dev")
	info, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("key file mode %v, want 0600", perm)
		}
		if dinfo, _ := os.Stat(filepath.Dir(keyPath)); dinfo.Mode().Perm() != 0o700 {
			t.Errorf("keys dir mode %v, want 0700", dinfo.Mode().Perm())
		}
	}
	pub, err := os.ReadFile(filepath.Join(project, "secrets", "dev.pub"))
	if err != nil || string(pub) != r1+"\n" {
		t.Fatalf("dev.pub = %q, %v; want the recipient %q", pub, err, r1)
	}
	key, _ := os.ReadFile(keyPath)

	r2 := mustInit(t, s, "dev")
	if r2 != r1 {
		t.Errorf("second InitEnv returned %q, want the existing %q", r2, r1)
	}
	if key2, _ := os.ReadFile(keyPath); !bytes.Equal(key2, key) {
		t.Error("second InitEnv rewrote the key file")
	}
	if r3 := mustInit(t, s, "prod"); r3 == r1 {
		t.Error("two environments share a key")
	}
	if _, err := os.Stat(filepath.Join(project, "secrets", "dev.key")); err == nil {
		t.Error("a private key was written into the project")
	}
}

func TestInitEnvKeepsOthersKey(t *testing.T) {
	s, project := newStore(t, "prod")
	r := mustInit(t, s, "prod")
	// A teammate with the repository but not the key.
	other := Open(project, t.TempDir())
	_, err := other.InitEnv("prod")
	var missing *MissingKeyError
	if !errors.As(err, &missing) || !strings.Contains(err.Error(), "prod.pub") {
		t.Fatalf("InitEnv without the private key: %v, want a MissingKeyError naming prod.pub", err)
	}
	if pub, _ := os.ReadFile(filepath.Join(project, "secrets", "prod.pub")); string(pub) != r+"\n" {
		t.Error("InitEnv replaced the public key")
	}
	if entries, _ := os.ReadDir(other.keysDir); len(entries) != 0 {
		t.Errorf("InitEnv generated a key anyway: %v", entries)
	}

	// A key that does not match the committed public key.
	mismatched := Open(project, t.TempDir())
	if _, err := mismatched.InitEnv("dev"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(mismatched.keyPath("dev"), mismatched.keyPath("prod")); err != nil {
		t.Fatal(err)
	}
	if _, err := mismatched.InitEnv("prod"); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("InitEnv with a mismatched key: %v, want a mismatch error", err)
	}
}

func TestRoundTripTwoEnvironments(t *testing.T) {
	s, project := newStore(t, "dev", "prod")
	mustInit(t, s, "dev")
	mustInit(t, s, "prod")
	want := map[string]map[string]string{
		"dev":  {"DB_PASSWORD": "dev-pass", "API_TOKEN": "tok\n\"quoted\" <ünïcode> \\ end"},
		"prod": {"DB_PASSWORD": "prod-pass-Xy7!"},
	}
	for env, vals := range want {
		for n, v := range vals {
			mustSet(t, s, env, n, "overwritten soon")
			mustSet(t, s, env, n, v)
		}
	}
	for env, vals := range want {
		got, err := s.Values(env)
		if err != nil {
			t.Fatalf("Values(%q): %v", env, err)
		}
		if !maps.Equal(got, vals) {
			t.Errorf("Values(%q) = %q, want %q", env, got, vals)
		}
		ct, _ := os.ReadFile(filepath.Join(project, "secrets", env+".age"))
		for n, v := range vals {
			if bytes.Contains(ct, []byte(n)) || bytes.Contains(ct, []byte(v)) {
				t.Errorf("%s.age contains %s or its value in the clear", env, n)
			}
		}
	}

	// dev's key cannot read prod's file.
	devKey, _ := os.ReadFile(s.keyPath("dev"))
	wrong := Open(project, t.TempDir())
	if err := os.WriteFile(wrong.keyPath("prod"), devKey, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := wrong.Values("prod")
	if err == nil || !strings.Contains(err.Error(), `"prod"`) || !strings.Contains(err.Error(), wrong.keyPath("prod")) {
		t.Fatalf("Values(prod) with dev's key: %v, want an error naming prod and the key file", err)
	}
	if strings.Contains(err.Error(), "prod-pass") {
		t.Fatal("error quotes a secret")
	}

	if err := s.Remove("dev", "API_TOKEN"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("dev", "API_TOKEN"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removing a missing name: %v, want fs.ErrNotExist", err)
	}
	got, _ := s.Values("dev")
	if !maps.Equal(got, map[string]string{"DB_PASSWORD": "dev-pass"}) {
		t.Errorf("after Remove: %q", got)
	}
	files, _ := filepath.Glob(filepath.Join(project, "secrets", "*"))
	if len(files) != 6 { // {dev,prod}.{age,names,pub}: no temporary files
		t.Errorf("secrets dir holds %v", files)
	}
}

func TestNamesWithoutKey(t *testing.T) {
	s, project := newStore(t, "staging")
	if names, err := s.Names("staging"); err != nil || names != nil {
		t.Fatalf("Names of an empty environment = %v, %v", names, err)
	}
	if vals, err := s.Values("staging"); err != nil || len(vals) != 0 {
		t.Fatalf("Values of an empty environment = %v, %v", vals, err)
	}
	mustInit(t, s, "staging")
	// The first secret needs only the public key.
	keyless := Open(project, t.TempDir())
	mustSet(t, keyless, "staging", "ZED", "zzzz")
	mustSet(t, s, "staging", "ALPHA", "aaaa")
	mustSet(t, s, "staging", "MIDDLE_1", "mmmm")

	names, err := keyless.Names("staging")
	want := []string{"ALPHA", "MIDDLE_1", "ZED"}
	if err != nil || !slices.Equal(names, want) {
		t.Fatalf("Names = %v, %v; want %v", names, err, want)
	}
	raw, _ := os.ReadFile(filepath.Join(project, "secrets", "staging.names"))
	if string(raw) != "ALPHA\nMIDDLE_1\nZED\n" {
		t.Errorf("staging.names = %q", raw)
	}
	var missing *MissingKeyError
	if _, err := keyless.Values("staging"); !errors.As(err, &missing) {
		t.Errorf("Values without the key: %v, want a MissingKeyError", err)
	}
	if err := keyless.Set("staging", "MORE", []byte("xxxx")); !errors.As(err, &missing) {
		t.Errorf("Set without the key on a non-empty environment: %v, want a MissingKeyError", err)
	}

	os.Remove(filepath.Join(project, "secrets", "staging.names"))
	if _, err := keyless.Names("staging"); err == nil || !strings.Contains(err.Error(), "staging.names") {
		t.Errorf("Names with the names file gone: %v", err)
	}
}

func TestMissingKeyError(t *testing.T) {
	s, project := newStore(t, "staging")
	mustInit(t, s, "staging")
	mustSet(t, s, "staging", "TOKEN", "value")
	keysDir := t.TempDir()
	_, err := Open(project, keysDir).Values("staging")
	var missing *MissingKeyError
	if !errors.As(err, &missing) {
		t.Fatalf("got %v, want a MissingKeyError", err)
	}
	keyPath := filepath.Join(keysDir, "staging.key")
	if missing.Env != "staging" || !slices.Equal(missing.Looked, []string{"$LADDER_KEY_STAGING", keyPath}) {
		t.Errorf("MissingKeyError = %+v", missing)
	}
	for _, want := range []string{`"staging"`, "$LADDER_KEY_STAGING", keyPath, "0600"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %q", err, want)
		}
	}
}

func TestKeyFromVariable(t *testing.T) {
	s, project := newStore(t, "pre-prod")
	mustInit(t, s, "pre-prod")
	mustSet(t, s, "pre-prod", "TOKEN", "from-ci")
	key, _ := os.ReadFile(s.keyPath("pre-prod"))
	if KeyEnvVar("pre-prod") != "LADDER_KEY_PRE_PROD" {
		t.Fatalf("KeyEnvVar(pre-prod) = %q", KeyEnvVar("pre-prod"))
	}
	ci := Open(project, t.TempDir())
	for name, text := range map[string]string{
		"whole file":     string(key),
		"key line, CRLF": "  " + lastLine(string(key)) + "\r\n",
	} {
		t.Setenv("LADDER_KEY_PRE_PROD", text)
		vals, err := ci.Values("pre-prod")
		if err != nil || vals["TOKEN"] != "from-ci" {
			t.Errorf("%s: Values = %v, %v", name, vals, err)
		}
	}
	t.Setenv("LADDER_KEY_PRE_PROD", "AGE-SECRET-KEY-1NOTAKEY")
	_, err := ci.Values("pre-prod")
	if err == nil || !strings.Contains(err.Error(), "$LADDER_KEY_PRE_PROD") || strings.Contains(err.Error(), "NOTAKEY") {
		t.Errorf("bad key in variable: %v, want an error naming the variable, not quoting it", err)
	}
}

func TestTamperedCiphertext(t *testing.T) {
	s, project := newStore(t, "prod")
	mustInit(t, s, "prod")
	mustSet(t, s, "prod", "DB_PASSWORD", "hunter2-hunter2")
	agePath := filepath.Join(project, "secrets", "prod.age")
	orig, _ := os.ReadFile(agePath)
	for _, tc := range []struct {
		name   string
		mangle func([]byte) []byte
	}{
		{"header", func(b []byte) []byte { b[40] ^= 1; return b }},
		{"payload", func(b []byte) []byte { b[len(b)-20] ^= 1; return b }},
		{"last byte", func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-5] }},
		{"appended", func(b []byte) []byte { return append(b, 'x') }},
		{"empty", func(b []byte) []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(agePath, tc.mangle(slices.Clone(orig)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := s.Values("prod")
			if err == nil {
				t.Fatal("tampered file decrypted")
			}
			if !strings.Contains(err.Error(), `"prod"`) || !strings.Contains(err.Error(), s.keyPath("prod")) ||
				strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q should name the env and key file, and quote no secret", err)
			}
		})
	}

	// Authentic, but not what ladder writes: the message must not quote it.
	var buf bytes.Buffer
	pub, _ := os.ReadFile(filepath.Join(project, "secrets", "prod.pub"))
	r, _ := age.ParseX25519Recipient(strings.TrimSpace(string(pub)))
	w, _ := age.Encrypt(&buf, r)
	w.Write([]byte(`["hunter2-hunter2"]`))
	w.Close()
	os.WriteFile(agePath, buf.Bytes(), 0o644)
	if _, err := s.Values("prod"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("non-object content: %v", err)
	}
}

func TestValidation(t *testing.T) {
	s, _ := newStore(t, "dev")
	mustInit(t, s, "dev")
	for _, tc := range []struct {
		env, name, value string
		ok               bool
	}{
		{"dev", "DB_PASSWORD", "v", true},
		{"dev", "A", "v", true},
		{"dev", "_PRIVATE", "v", true},
		{"dev", "X9_Y", "", true},
		{"dev", "", "v", false},
		{"dev", "db_password", "v", false},
		{"dev", "9LIVES", "v", false},
		{"dev", "DB-PASSWORD", "v", false},
		{"dev", "DB PASSWORD", "v", false},
		{"dev", "ÄRGER", "v", false},
		{"dev", "TOKEN\n", "v", false},
		{"dev", "TOKEN", "nul\x00byte", false},
		{"dev", "TOKEN", "bad\xffutf8", false},
		{"../dev", "TOKEN", "v", false},
		{"Dev", "TOKEN", "v", false},
		{"", "TOKEN", "v", false},
		{"nope", "TOKEN", "v", false}, // not initialized
	} {
		err := s.Set(tc.env, tc.name, []byte(tc.value))
		if (err == nil) != tc.ok {
			t.Errorf("Set(%q, %q, %q) = %v, want ok=%v", tc.env, tc.name, tc.value, err, tc.ok)
		}
		if err != nil && tc.value != "v" && strings.Contains(err.Error(), tc.value) {
			t.Errorf("error %q quotes the value", err)
		}
	}
	if _, err := s.Names("../../etc"); err == nil {
		t.Error("Names accepted a path as environment")
	}
}

func TestKeyFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	s, _ := newStore(t, "dev")
	mustInit(t, s, "dev")
	mustSet(t, s, "dev", "TOKEN", "value")
	os.Chmod(s.keyPath("dev"), 0o644)
	if _, err := s.Values("dev"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v, want a chmod hint", err)
	}
}

func TestKeysDirDefault(t *testing.T) {
	project := t.TempDir()
	t.Setenv("LADDER_KEY_DEV", "")
	t.Setenv("LADDER_KEYS_DIR", "")
	if got, want := Open(project, "").keyPath("dev"), filepath.Join(project, ".ladder", "keys", "dev.key"); got != want {
		t.Errorf("default key path %q, want %q", got, want)
	}
	dir := t.TempDir()
	t.Setenv("LADDER_KEYS_DIR", dir)
	s := Open(project, "")
	mustInit(t, s, "dev")
	if _, err := os.Stat(filepath.Join(dir, "dev.key")); err != nil {
		t.Errorf("LADDER_KEYS_DIR not used: %v", err)
	}
	if got := Open(project, "/explicit").keyPath("dev"); got != filepath.Join("/explicit", "dev.key") {
		t.Errorf("explicit keys dir ignored: %q", got)
	}
}

func TestConcurrentSet(t *testing.T) {
	s, _ := newStore(t, "dev")
	mustInit(t, s, "dev")
	var wg sync.WaitGroup
	names := []string{"A1", "B2", "C3", "D4", "E5", "F6", "G7", "H8"}
	for _, n := range names {
		wg.Go(func() {
			if err := s.Set("dev", n, []byte("value-"+n)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	vals, err := s.Values("dev")
	if err != nil || len(vals) != len(names) {
		t.Fatalf("after concurrent Sets: %d values, %v", len(vals), err)
	}
	if got, _ := s.Names("dev"); !slices.Equal(got, names) {
		t.Errorf("Names = %v", got)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
