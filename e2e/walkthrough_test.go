package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// TestUpOutputAsTheWalkthroughShowsIt runs the README's inner loop on a
// two-rung ladder whose dev has autoPromote, and reads what `up` prints:
// one "✓ healthy" line per instance it started (the last one included),
// none of dev's, and one line saying the snapshot went on to dev, that
// dev keeps running, and how to stop it. The state directory it made
// keeps itself out of git.
func TestUpOutputAsTheWalkthroughShowsIt(t *testing.T) {
	p := newProject(t)
	compose, err := os.ReadFile(filepath.Join(p.dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Two rungs on one machine: web's host port is picked per rung.
	p.write("compose.yaml", strings.Replace(string(compose), `"${WEB_PORT:-3000}:8080"`, `"8080"`, 1))
	p.write("ladder.yaml", `stack: compose.yaml
environments:
  local:
    target: process
    telemetry: {interval: 1s}
  dev:
    from: local
    target: process
    autoPromote: true
    dashboard: 127.0.0.1:0
    telemetry: {interval: 1s}
`)
	t.Cleanup(func() { p.run("down", "--env", "dev") })

	healthy := regexp.MustCompile(`(?m)^  ✓ (\S+) +healthy +\S+$`)
	count := func(out string) map[string]int {
		n := map[string]int{}
		for _, m := range healthy.FindAllStringSubmatch(out, -1) {
			n[m[1]]++
		}
		return n
	}
	promoted := func(res result, snap string) {
		t.Helper()
		want := "auto-promoted snapshot " + snapshot.Short(snap) + " to dev (autoPromote in ladder.yaml); dev keeps running: `ladder down --env dev` stops it\n"
		if strings.Count(res.stdout, want) != 1 {
			t.Errorf("up does not say once that it auto-promoted to dev and how to stop it:\n%s", res)
		}
	}

	res := p.run("up", "-d", "--dashboard", "127.0.0.1:0")
	if res.code != 0 {
		t.Fatalf("up -d: %s", res)
	}
	if got := count(res.stdout); len(got) != 4 || got["users"] != 1 || got["notifications"] != 1 || got["trades"] != 1 || got["web"] != 1 {
		t.Errorf("healthy lines per service = %v, want one for each of the 4:\n%s", got, res)
	}
	st := statusOf(t, p, "dev")
	promoted(res, st.Sites[0].Snapshot)

	// The inner loop: one service changed, one line for it.
	p.appendTo("services/notifications/main.go", "\n// a change\n")
	res = p.run("up")
	if res.code != 0 {
		t.Fatalf("up after a change: %s", res)
	}
	if got := count(res.stdout); len(got) != 1 || got["notifications"] != 1 {
		t.Errorf("healthy lines per service = %v, want one, for notifications:\n%s", got, res)
	}
	st = statusOf(t, p, "dev")
	promoted(res, st.Sites[0].Snapshot)

	b, err := os.ReadFile(filepath.Join(p.dir, ".ladder", ".gitignore"))
	if err != nil || !strings.Contains(string(b), "\n*\n") {
		t.Errorf(".ladder/.gitignore = %q (%v), want it to ignore everything", b, err)
	}
}
