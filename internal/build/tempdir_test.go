package build

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/proc"
)

// A build killed half-way leaves its temporary directory behind; the next
// build removes it, and only it: directories of live processes and young
// ones of unknown owners stay.
func TestStaleTempDirsAreSweptByTheNextBuild(t *testing.T) {
	h := newHarness(t, "", nil)
	tmpRoot := filepath.Join(h.dir, "tmp")
	if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
		t.Fatal(err)
	}

	// A real process that made a temp dir and died (killed, reaped).
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	deadOwner := ownerOf(t, child.Process.Pid)
	_ = child.Process.Kill()
	_ = child.Wait()
	dead := filepath.Join(tmpRoot, "go-api-@"+deadOwner+"@123456")
	live := filepath.Join(tmpRoot, "go-api-@"+strings.Replace(proc.Self(), "/", ".", 1)+"@654321")
	oldLegacy := filepath.Join(tmpRoot, "go-api-987654")
	youngLegacy := filepath.Join(tmpRoot, "go-web-111111")
	for _, d := range []string{dead, live, oldLegacy, youngLegacy} {
		if err := os.MkdirAll(filepath.Join(d, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "sub", "app"), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * legacyTempAge)
	if err := os.Chtimes(oldLegacy, old, old); err != nil {
		t.Fatal(err)
	}

	h.build(t, stackFor(copyFixture(t), "api"))

	for _, d := range []string{dead, oldLegacy} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left by a dead build is still there (%v)", filepath.Base(d), err)
		}
	}
	for _, d := range []string{live, youngLegacy} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s (in use or too young to tell) was removed: %v", filepath.Base(d), err)
		}
	}
	// And the build's own temp dir is gone once it is done.
	entries, _ := os.ReadDir(tmpRoot)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("tmp holds %v, want only the two kept", names)
	}
}

// ownerOf is proc.Self's form for another process, with "." for "/".
func ownerOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return fmt.Sprintf("%d.%s", pid, fields[19])
}
