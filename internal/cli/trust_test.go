package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A public key file is read only up to its bound: a larger one is refused
// without being read whole.
func TestReadPublicKeyIsBounded(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		size int
		ok   bool
	}{
		{"small", 200, true},
		{"at the bound", maxPublicKey, true},
		{"past the bound", maxPublicKey + 1, false},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
		if err := os.WriteFile(path, make([]byte, tc.size), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := readPublicKey(path)
		if tc.ok && (err != nil || len(b) != tc.size) {
			t.Errorf("%s: %d bytes, %v; want all %d", tc.name, len(b), err, tc.size)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "not a public key")) {
			t.Errorf("%s: error %v, want a refusal", tc.name, err)
		}
	}
}
