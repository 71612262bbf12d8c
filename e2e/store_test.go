package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/api"
)

// TestLostStoreIsRefused deletes, then truncates, the store under a
// running agent. Every command refuses with exit 6 and says what to do
// instead of reporting an empty history; the agent notices, says so, and
// writes nothing more (no new database appears in the old one's place).
// down still stops the agent; moving the lost store aside, as the hint
// says, starts a new history.
func TestLostStoreIsRefused(t *testing.T) {
	p := newProject(t)
	for _, loss := range []struct {
		name, word string
		do         func(db string) error
	}{
		{"deleted", "missing", func(db string) error {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(db + suffix); err != nil && !os.IsNotExist(err) {
					return err
				}
			}
			return nil
		}},
		{"truncated", "truncated", func(db string) error { return os.Truncate(db, 0) }},
	} {
		t.Run(loss.name, func(t *testing.T) {
			up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
			state := filepath.Join(p.dir, ".ladder")
			db := filepath.Join(state, "ladder.db")
			if _, err := os.Stat(filepath.Join(state, "store.id")); err != nil {
				t.Fatalf("no store.id beside the database: %v", err)
			}
			if err := loss.do(db); err != nil {
				t.Fatal(err)
			}

			// The agent notices on its own.
			eventually(t, 10*time.Second, "the agent reporting its store lost", func() (bool, string) {
				var st api.Status
				getJSON(t, up.Status.Agent.URL+"/api/v1/status", &st)
				return st.StoreLost != "", "status.storeLost is empty"
			})
			// Every command refuses; none reports an empty history.
			for _, args := range [][]string{{"status"}, {"history"}, {"snapshots"}, {"audit"}, {"status", "-o", "json"}} {
				res := p.run(args...)
				if res.code != 6 || !strings.Contains(res.stderr, loss.word) || !strings.Contains(res.stderr, "Try:") ||
					!strings.Contains(res.stderr, "store.id") {
					t.Errorf("ladder %s with the store %s: %s", strings.Join(args, " "), loss.name, res)
				}
			}
			// The agent keeps its services but writes nothing more: in
			// particular no new database where the old one was.
			time.Sleep(2500 * time.Millisecond) // more than a scrape and a store check
			if fi, err := os.Stat(db); loss.name == "deleted" && err == nil {
				t.Errorf("a new database appeared in place of the deleted one (%d bytes)", fi.Size())
			} else if loss.name == "truncated" && (err != nil || fi.Size() != 0) {
				t.Errorf("the truncated database was written to: %v", fi)
			}
			log, _ := os.ReadFile(filepath.Join(state, "logs", "engine.log"))
			if !strings.Contains(string(log), "the store was lost") {
				t.Errorf("the engine's log does not say the store was lost:\n%s", log)
			}

			// What the hint says: stop what runs (down still reaches the
			// agent, and says it cannot do more without the store), then
			// move the lost store aside for a new, empty history.
			res := p.run("down")
			if res.code != 6 || !strings.Contains(res.stdout, "stopped") {
				t.Fatalf("down with the store %s: %s", loss.name, res)
			}
			if left := p.leftovers(); len(left) > 0 {
				t.Errorf("processes left after down: %v", left)
			}
			aside := t.TempDir()
			matches, _ := filepath.Glob(db + "*")
			for _, f := range append(matches, filepath.Join(state, "store.id")) {
				if err := os.Rename(f, filepath.Join(aside, filepath.Base(f))); err != nil {
					t.Fatal(err)
				}
			}
			if res := p.run("history"); res.code != 0 {
				t.Errorf("history of the new store: %s", res)
			}
		})
	}
}
