package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
	"github.com/ladderhq/ladder/internal/store/storetest"
)

// TestLeaseAcrossStores races 8 goroutines over two *Store values on one
// file (two pools, two writer connections, as two processes would have)
// for each of several leases: each must have exactly one winner, and both
// stores must name it as the holder.
func TestLeaseAcrossStores(t *testing.T) {
	a, path := openTemp(t)
	defer a.Close()
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := t.Context()
	const workers, rounds = 8, 20
	now := time.Now()
	for round := range rounds {
		name := fmt.Sprintf("lease-%d", round)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
		)
		start := make(chan struct{})
		for i := range workers {
			s := []*Store{a, b}[i%2]
			wg.Go(func() {
				owner := fmt.Sprintf("w%d", i)
				<-start
				_, err := s.AcquireLease(ctx, name, holderOf(owner), now, time.Hour)
				switch {
				case err == nil:
					mu.Lock()
					winners = append(winners, owner)
					mu.Unlock()
				case !errors.Is(err, store.ErrLocked):
					t.Errorf("%s: AcquireLease %s: %v", name, owner, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("%s: winners %v, want exactly one", name, winners)
		}
		want := store.Lease{Name: name, Holder: holderOf(winners[0]), Epoch: 1, Expires: now.Add(time.Hour).Truncate(time.Millisecond).UTC()}
		for sname, s := range map[string]*Store{"a": a, "b": b} {
			got, err := s.AcquireLease(ctx, name, holderOf("probe"), now, time.Hour)
			if !errors.Is(err, store.ErrLocked) || got != want {
				t.Errorf("%s: %s sees holder %+v (%v), want %+v and ErrLocked", name, sname, got, err, want)
			}
		}
	}
}

// holderOf is a test holder named owner.
func holderOf(owner string) store.Holder {
	return store.Holder{Host: "test", PID: 1, Instance: owner}
}

// lockHelperEnv names the database a child process races for locks in;
// see TestLeaseAcrossProcesses.
const lockHelperEnv = "LADDER_SQLITE_LOCK_HELPER_DB"

const lockHelperLocks = 300

// TestLeaseAcrossProcesses has this process and a child (this test binary
// again) try to take the same 300 locks, in opposite orders so that they
// meet and contend. Each reports the locks it won (the child by appending
// an event per win); every lock must be won by exactly one of them, and
// the database must name that one as the holder.
func TestLeaseAcrossProcesses(t *testing.T) {
	if path := os.Getenv(lockHelperEnv); path != "" {
		lockHelper(t, path)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	s, path := openTemp(t)
	defer s.Close()
	ctx := t.Context()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLeaseAcrossProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Start together: wait for the child to be ready, then tell it to go.
	waitForEvent(t, s, "child-ready")
	if _, err := s.AppendEvent(ctx, store.Event{Kind: store.EventDrift, Env: "parent-go"}); err != nil {
		t.Fatal(err)
	}
	parentWon := map[string]bool{}
	for i := lockHelperLocks - 1; i >= 0; i-- {
		name := fmt.Sprintf("L%d", i)
		_, err := s.AcquireLease(ctx, name, holderOf("parent"), time.Now(), time.Hour)
		switch {
		case err == nil:
			parentWon[name] = true
		case !errors.Is(err, store.ErrLocked):
			t.Fatalf("parent AcquireLease %s: %v", name, err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child process: %v\n%s", err, out.String())
	}
	childEvents, err := s.ListEvents(ctx, store.EventFilter{Env: "child-won"})
	if err != nil {
		t.Fatal(err)
	}
	childWon := map[string]bool{}
	for _, e := range childEvents {
		childWon[e.Message] = true
	}
	holders := lockOwners(t, s)
	for i := range lockHelperLocks {
		name := fmt.Sprintf("L%d", i)
		switch {
		case parentWon[name] && childWon[name]:
			t.Errorf("%s: both processes acquired it", name)
		case !parentWon[name] && !childWon[name]:
			t.Errorf("%s: neither process acquired it", name)
		case parentWon[name] && holders[name] != "parent", childWon[name] && holders[name] != "child":
			t.Errorf("%s: held by %q in the database, not its winner", name, holders[name])
		}
	}
	// Whether the two met depends on scheduling; say so rather than fail,
	// since either way no lock may have two winners.
	t.Logf("parent won %d locks, child %d", len(parentWon), len(childWon))
}

func lockHelper(t *testing.T, path string) {
	s, err := Open(path)
	if err != nil {
		t.Fatalf("child Open: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.AppendEvent(ctx, store.Event{Kind: store.EventDrift, Env: "child-ready"}); err != nil {
		t.Fatalf("child AppendEvent: %v", err)
	}
	waitForEvent(t, s, "parent-go")
	for i := range lockHelperLocks {
		name := fmt.Sprintf("L%d", i)
		_, err := s.AcquireLease(ctx, name, holderOf("child"), time.Now(), time.Hour)
		switch {
		case err == nil:
			if _, err := s.AppendEvent(ctx, store.Event{Kind: store.EventDrift, Env: "child-won", Message: name}); err != nil {
				t.Fatalf("child AppendEvent: %v", err)
			}
		case !errors.Is(err, store.ErrLocked):
			t.Fatalf("child AcquireLease %s: %v", name, err)
		}
	}
}

// waitForEvent polls until an event with env exists (10s at most).
func waitForEvent(t *testing.T, s *Store, env string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		events, err := s.ListEvents(context.Background(), store.EventFilter{Env: env, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event in 10s", env)
		}
	}
}

func lockOwners(t *testing.T, s *Store) map[string]string {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), `SELECT name, holder_instance FROM leases`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, owner string
		if err := rows.Scan(&name, &owner); err != nil {
			t.Fatal(err)
		}
		out[name] = owner
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUpgradeFrom0001 opens a database written at schema version 1: the
// releases it holds come back with By empty and not known-good, and can be
// marked known-good.
func TestUpgradeFrom0001(t *testing.T) {
	ctx := t.Context()
	migs, path, old := openAtVersion(t, 1)
	if _, err := old.ExecContext(ctx, `INSERT INTO releases (env, site, snapshot, phase, owner, started_ms, finished_ms)
		VALUES ('prod', 'eu-1', 'abcd', 'succeeded', 'host:1', 1000, 2000)`); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open of a version 1 database: %v", err)
	}
	defer s.Close()
	if v, err := schemaVersion(ctx, s.w.DB); err != nil || v != migs[len(migs)-1].Version {
		t.Errorf("schema version %d (%v), want %d", v, err, migs[len(migs)-1].Version)
	}
	if applied, err := appliedVersions(ctx, s.w.DB); err != nil || len(applied) != len(migs) {
		t.Errorf("applied migrations %v (%v), want all %d", applied, err, len(migs))
	}
	// 0004 numbers the releases already recorded per environment.
	want := store.Release{ID: 1, Number: 1, Env: "prod", Site: "eu-1", Snapshot: "abcd", Phase: store.PhaseSucceeded,
		Owner: "host:1", Started: sqlstore.Time(1000), Finished: sqlstore.Time(2000)}
	got, err := s.GetRelease(ctx, 1)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("GetRelease after upgrade: %+v (%v), want %+v", got, err, want)
	}
	if err := s.MarkKnownGood(ctx, 1, sqlstore.Time(3000)); err != nil {
		t.Fatalf("MarkKnownGood: %v", err)
	}
	want.KnownGood = true
	rels, err := s.ListReleases(ctx, store.ReleaseFilter{KnownGood: true, Env: "prod", Site: "eu-1"})
	if err != nil || len(rels) != 1 || !reflect.DeepEqual(rels[0], want) {
		t.Errorf("ListReleases known-good after upgrade: %+v (%v), want [%+v]", rels, err, want)
	}
	var markedMS int64
	if err := s.r.QueryRowContext(ctx, `SELECT known_good_ms FROM releases WHERE id = 1`).Scan(&markedMS); err != nil || markedMS != 3000 {
		t.Errorf("known_good_ms = %d (%v), want 3000", markedMS, err)
	}
}

// TestKnownGoodUsesIndex checks the rollback lookup (newest known-good
// release of an env/site) is answered from the partial index.
func TestKnownGoodUsesIndex(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	rows, err := s.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN SELECT `+releaseCols+` FROM releases
		WHERE env = $1 AND site = $2 AND known_good ORDER BY id DESC LIMIT $3`, "prod", "eu-1", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "releases_known_good") {
		t.Errorf("query plan %q does not use releases_known_good", p)
	}
}

// TestUpgradeKeepsVerdicts opens a database written at schema version 8,
// whose releases' known-good verdicts are only in their events: each
// release takes its first verdict; one never judged has none.
func TestUpgradeKeepsVerdicts(t *testing.T) {
	ctx := t.Context()
	_, path, old := openAtVersion(t, 8)
	for _, q := range storetest.LegacyVerdicts {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open of a version 8 database: %v", err)
	}
	defer s.Close()
	for id, want := range storetest.LegacyVerdictsWant {
		got, err := s.GetRelease(ctx, id)
		if err != nil || got.Verdict != want {
			t.Errorf("release %d: verdict %q (%v), want %q", id, got.Verdict, err, want)
		}
	}
}

// openAtVersion makes a database migrated to the first n migrations only
// (an older ladder's), and returns every migration, its path and the
// database, open with one connection.
func openAtVersion(t *testing.T, n int) ([]sqlstore.Migration, string, *sql.DB) {
	t.Helper()
	migs, err := sqlstore.LoadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	old.SetMaxOpenConns(1)
	if err := migrate(t.Context(), old, migs[:n]); err != nil {
		t.Fatal(err)
	}
	return migs, path, old
}
