package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/postgres"
	"github.com/ladderhq/ladder/internal/store/postgres/pgtest"
)

// killTrials is how many times a promotion or a rollback is killed with
// SIGKILL at a random moment.
const killTrials = 20

// TestKillTrialsDuringPromoteAndRollback kills `ladder promote` and
// `ladder rollback` with SIGKILL at random moments of their work, with the
// record in PostgreSQL. After each kill the same command, run again, must
// finish the job (once the dead process's lease has lapsed), and then the
// store and the site agree: every release and promotion is closed, release
// numbers are unique, the site runs the snapshot of its last succeeded
// release, one engine runs both rungs, one instance per service (nothing
// ran twice), and every promotion and rollback that began is in the audit.
func TestKillTrialsDuringPromoteAndRollback(t *testing.T) {
	dsn := pgtest.Schema(t)
	p := newLadderProject(t)
	p.env = append(p.env, "LADDER_STORE="+dsn)
	// A shared store's first token, an admin, needs no credential.
	p.env = append(p.env, "LADDER_TOKEN="+p.createToken("ops", "admin"))
	p.write("ladder.yaml", twoRungs(""))
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Two snapshots, each of which has run on both rungs.
	s1 := p.upJSON("-d", "--dashboard", "127.0.0.1:0").Snapshot.ID
	if _, res := p.promote(s1, "dev"); res.code != 0 {
		t.Fatalf("promote %s: %s", snapshot.Short(s1), res)
	}
	compose, err := os.ReadFile(filepath.Join(p.dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p.write("compose.yaml", strings.Replace(string(compose), "      USERS_URL: http://users:8080\n", "      USERS_URL: http://users:8080\n      FAULT_NOTE: second\n", 1))
	s2 := p.upJSON("-d").Snapshot.ID
	snaps := map[string]string{s1: s2, s2: s1} // each to the other

	// How long each command takes unkilled bounds the kill points.
	began := time.Now()
	if _, res := p.promote(s2, "dev"); res.code != 0 {
		t.Fatalf("promote %s: %s", snapshot.Short(s2), res)
	}
	promoteTook := time.Since(began)
	began = time.Now()
	if res := p.run("rollback", "dev", "--to", s1); res.code != 0 {
		t.Fatalf("rollback dev --to %s: %s", snapshot.Short(s1), res)
	}
	rollbackTook := time.Since(began)
	t.Logf("unkilled: promote %s, rollback %s", promoteTook.Round(time.Millisecond), rollbackTook.Round(time.Millisecond))

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	runs := s1
	for trial := range killTrials {
		to := snaps[runs]
		var args []string
		var what string
		took := rollbackTook
		if trial%2 == 0 {
			// A promotion needs local to run the snapshot first.
			if res := p.run("rollback", "local", "--to", to); res.code != 0 {
				t.Fatalf("trial %d: rollback local --to %s: %s", trial, snapshot.Short(to), res)
			}
			args, took = []string{"promote", to, "--to", "dev"}, promoteTook
			what = "promote " + snapshot.Short(to)
		} else {
			args = []string{"rollback", "dev", "--to", to}
			what = "rollback to " + snapshot.Short(to)
		}
		at := time.Duration(rng.Int64N(int64(took)))
		killed := killAfter(t, p, at, args...)
		t.Logf("trial %d: %s, SIGKILL after %s: %s", trial, what, at.Round(time.Millisecond), killed)

		// The same command again finishes the job once the killed
		// process's lease has lapsed (busy, exit 7, until then).
		var res result
		eventually(t, 30*time.Second, "the command to succeed after the kill", func() (bool, string) {
			res = p.run(args...)
			return res.code == 0, res.String()
		})
		runs = to
		checkAgree(t, p, st, trial, to)
	}
}

// killAfter starts ladder with args and kills it with SIGKILL after d (or
// finds it already finished); it says which.
func killAfter(t *testing.T, p *project, d time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := p.command(ctx, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return fmt.Sprintf("had already exited: %v", err)
	case <-time.After(d):
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Sprintf("had already exited (%v)", err)
	}
	<-done
	return "killed"
}

// checkAgree asserts that the store and the running rungs agree after the
// command of a trial finished, having put snapshot want on dev.
func checkAgree(t *testing.T, p *project, st store.Store, trial int, want string) {
	t.Helper()
	ctx := t.Context()
	rels, err := st.ListReleases(ctx, store.ReleaseFilter{Env: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	var numbers []int64
	var last *store.Release
	for i, r := range rels {
		if !r.Phase.IsTerminal() {
			t.Errorf("trial %d: dev release %d is still %s after the command finished", trial, r.Number, r.Phase)
		}
		if slices.Contains(numbers, r.Number) {
			t.Errorf("trial %d: two dev releases are numbered %d", trial, r.Number)
		}
		numbers = append(numbers, r.Number)
		if r.Phase == store.PhaseSucceeded && last == nil {
			last = &rels[i]
		}
	}
	if last == nil || last.Snapshot != want {
		t.Fatalf("trial %d: dev's last succeeded release is %+v, want one of %s", trial, last, snapshot.Short(want))
	}
	if s := statusOf(t, p, "dev"); len(s.Sites) != 1 || s.Sites[0].Snapshot != want {
		t.Errorf("trial %d: dev runs %+v, the store says %s", trial, s.Sites, snapshot.Short(want))
	}
	proms, err := st.ListPromotions(ctx, store.PromotionFilter{To: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	requested, err := st.ListAudit(ctx, store.AuditFilter{Env: "dev", Action: "promote"})
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range proms {
		// A killed promotion was closed by the promotion that followed.
		if !pr.Phase.IsTerminal() {
			t.Errorf("trial %d: promotion %d of %s is still %s", trial, pr.ID, snapshot.Short(pr.Snapshot), pr.Phase)
		}
		if !slices.ContainsFunc(requested, func(e store.AuditEntry) bool {
			return e.Snapshot == pr.Snapshot && e.Outcome == "requested"
		}) {
			t.Errorf("trial %d: promotion %d of %s is not in the audit", trial, pr.ID, snapshot.Short(pr.Snapshot))
		}
	}
	if engines := p.enginesOf(); len(engines) != 1 {
		t.Errorf("trial %d: engines %v, want one running local and dev", trial, engines)
	}
	// Four services on each of two rungs, and nothing else: a deploy that
	// ran twice would leave a second instance.
	if left := p.leftovers(); len(left) != 8 {
		t.Errorf("trial %d: %d service instances run (%v), want 8", trial, len(left), left)
	}
}
