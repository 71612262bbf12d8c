package process

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryChange runs a copy of sleep by its absolute path, as the
// target starts instances, then replaces and removes that file.
func TestBinaryChange(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("no sleep: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	copyExe := func(dst string) {
		b, err := os.ReadFile(sleep)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyExe(bin)
	cmd := exec.Command(bin, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	if got := binaryChange(pid); got != "" {
		t.Fatalf("binaryChange of an untouched binary = %q, want none", got)
	}
	// A hotfix moved into place: same path, another file.
	if err := os.Rename(bin, bin+".old"); err != nil {
		t.Fatal(err)
	}
	copyExe(bin)
	if got := binaryChange(pid); got != "replaced on disk: "+bin {
		t.Errorf("binaryChange after a replacement = %q", got)
	}
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	if got := binaryChange(pid); !strings.HasPrefix(got, "removed from disk: ") {
		t.Errorf("binaryChange after removal = %q", got)
	}
	if got := binaryChange(0); got != "" {
		t.Errorf("binaryChange(0) = %q", got)
	}
}
