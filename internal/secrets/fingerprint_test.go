package secrets

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFingerprinter(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenFingerprinter(dir, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenFingerprinter without a key and without create: %v, want ErrNotExist", err)
	}
	f, err := OpenFingerprinter(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, FingerprintKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	const value = "hunter2"
	fp := f.Fingerprint(value)
	if strings.Contains(fp, value) || !strings.HasPrefix(fp, "hmac-sha256:") {
		t.Errorf("fingerprint %q", fp)
	}
	// Another process of the same state directory agrees.
	g, err := OpenFingerprinter(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if m, known := g.Match(fp, value); !m || !known {
		t.Errorf("Match of the same value: %v, %v", m, known)
	}
	if m, known := g.Match(fp, "hunter3"); m || !known {
		t.Errorf("Match of another value: %v, %v", m, known)
	}
	// A fingerprint made under another key cannot be compared.
	other, err := OpenFingerprinter(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	if other.Fingerprint(value) == fp {
		t.Error("two keys give the same fingerprint")
	}
	if _, known := other.Match(fp, value); known {
		t.Error("a fingerprint of another key is taken as comparable")
	}
	if _, known := g.Match("<secret DB_PASSWORD>", value); known {
		t.Error("a placeholder is taken as a fingerprint")
	}
}
