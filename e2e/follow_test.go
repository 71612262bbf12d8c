package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/store"
)

// TestCommandsFollowTheSite brings the demo up with --target process on a
// machine whose Docker engine answers (where auto-detection picks the
// compose target): drift, logs, status and down must look at the process
// target the release ran on.
func TestCommandsFollowTheSite(t *testing.T) {
	requireDocker(t)
	p := newProject(t)
	// No LADDER_TARGET: the ladder file says auto, the command line says
	// process, and later commands have nothing but the record to go by.
	p.env = slices.DeleteFunc(p.env, func(kv string) bool { return strings.HasPrefix(kv, "LADDER_TARGET=") })
	t.Setenv("LADDER_TARGET", "")
	up := p.upJSON("-d", "--target", "process", "--dashboard", "127.0.0.1:0")
	if up.Status.Target != "process" {
		t.Fatalf("up --target process runs on %q", up.Status.Target)
	}
	var hist []store.Release
	res := p.run("history", "-o", "json")
	if err := json.Unmarshal([]byte(res.stdout), &hist); err != nil || len(hist) == 0 || hist[0].Target != "process" {
		t.Errorf("history does not record the process target: %v\n%s", err, res)
	}

	if res := p.run("drift"); res.code != 0 || !strings.Contains(res.stdout, "no drift") {
		t.Errorf("drift after up --target process: %s", res)
	}
	res = p.run("logs", "users", "--tail", "20")
	if res.code != 0 || !strings.Contains(res.stdout, "listening") || strings.Contains(res.stderr, "compose") {
		t.Errorf("logs after up --target process: %s", res)
	}
	st, res := p.status()
	if res.code != 0 || st.Target != "process" {
		t.Errorf("status after up --target process: target %q, %s", st.Target, res)
	}

	// down stops the processes (there are no containers to remove), and
	// drift on the process target is real: after down, every service is
	// missing.
	res = p.run("down")
	if res.code != 0 || !strings.Contains(res.stdout, "stopped") || strings.Contains(res.stdout, "container") {
		t.Errorf("down after up --target process: %s", res)
	}
	if left := p.leftovers(); len(left) > 0 {
		t.Errorf("processes left after down: %v", left)
	}
	if res := p.run("drift"); res.code != 5 || !strings.Contains(res.stdout, "missing") {
		t.Errorf("drift after down: want every service missing, exit 5: %s", res)
	}
}
