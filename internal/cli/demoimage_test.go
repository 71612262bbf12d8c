package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBin writes executable shell scripts named by files into a directory
// and makes it the whole PATH.
func fakeBin(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

func TestEnsureDemoImage(t *testing.T) {
	tests := []struct {
		name     string
		image    string // POSTGRES_IMAGE
		bin      map[string]string
		wantErr  string
		wantSaid string
	}{
		{name: "another image is the user's business", image: "postgres:15@sha256:abc",
			bin: map[string]string{"docker": "exit 1", "bash": "exit 1"}},
		{name: "no docker command", bin: map[string]string{}},
		{name: "image present", bin: map[string]string{"docker": "exit 0", "bash": "exit 1"}},
		{name: "no engine", bin: map[string]string{"docker": `[ "$1" = image ] && exit 1; exit 1`, "bash": "exit 1"}},
		{name: "built", bin: map[string]string{"docker": `[ "$1" = image ] && exit 1; exit 0`, "bash": `echo "args $*" >&2`},
			wantSaid: "building it from Debian's packages (mmdebstrap | docker import, about 60s)"},
		{name: "build fails", bin: map[string]string{"docker": `[ "$1" = image ] && exit 1; exit 0`, "bash": "echo 'mmdebstrap is missing' >&2; exit 1"},
			wantSaid: "is missing: building it", wantErr: "Try: apt-get install mmdebstrap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("POSTGRES_IMAGE", tt.image)
			fakeBin(t, tt.bin)
			var out, errw bytes.Buffer
			err := ensureDemoImage(context.Background(), &out, &errw)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("error %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want one with %q", err, tt.wantErr)
			}
			if tt.wantSaid == "" && out.Len() > 0 {
				t.Errorf("said %q, want nothing", out.String())
			}
			if !strings.Contains(out.String(), tt.wantSaid) {
				t.Errorf("said %q, want %q", out.String(), tt.wantSaid)
			}
			if tt.name == "built" && !strings.Contains(errw.String(), "ladder.local/postgres:15 postgresql-15") {
				t.Errorf("the script got %q", errw.String())
			}
		})
	}
}
