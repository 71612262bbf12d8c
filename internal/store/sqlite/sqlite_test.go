package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
	"github.com/ladderhq/ladder/internal/store/storetest"
)

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	// A directory that does not exist yet: Open must create it.
	path := filepath.Join(t.TempDir(), "state", "nested", "ladder.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTemp(t)
		return s
	})
}

// TestPragmas checks that connections of both pools are set up for sharing
// the file: WAL, a busy timeout, foreign keys, and a read-only reader pool.
func TestPragmas(t *testing.T) {
	s, _ := openTemp(t)
	defer s.Close()
	ctx := t.Context()
	for _, pool := range []struct {
		name      string
		query     func(string) (string, error)
		queryOnly string
	}{
		{"writer", func(q string) (v string, err error) { err = s.w.QueryRowContext(ctx, q).Scan(&v); return }, "0"},
		{"reader", func(q string) (v string, err error) { err = s.r.QueryRowContext(ctx, q).Scan(&v); return }, "1"},
	} {
		for pragma, want := range map[string]string{
			"journal_mode": "wal", "busy_timeout": "5000", "foreign_keys": "1",
			"synchronous": "1", "query_only": pool.queryOnly,
		} {
			got, err := pool.query("PRAGMA " + pragma)
			if err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", pool.name, pragma, err)
			}
			if got != want {
				t.Errorf("%s: PRAGMA %s = %q, want %q", pool.name, pragma, got, want)
			}
		}
	}
	if _, err := s.r.ExecContext(ctx, `INSERT INTO events (time_ms, kind) VALUES (1, 'x')`); err == nil {
		t.Error("reader pool accepted a write")
	}
}

func TestOpenRejects(t *testing.T) {
	for _, path := range []string{"", filepath.Join(t.TempDir(), "what?.db")} {
		if s, err := Open(path); err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", path)
		}
	}
}

// migrationRows returns schema_migrations as version -> applied_at.
func migrationRows(t *testing.T, s *Store) map[int]int64 {
	t.Helper()
	rows, err := s.w.QueryContext(t.Context(), `SELECT version, applied_at FROM schema_migrations`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	out := map[int]int64{}
	for rows.Next() {
		var v int
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		out[v] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	migs, err := sqlstore.LoadMigrations(migrationFS)
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	s, path := openTemp(t)
	first := migrationRows(t, s)
	if len(first) != len(migs) {
		t.Fatalf("after Open: %d migrations recorded, want %d", len(first), len(migs))
	}
	if _, err := s.AppendEvent(t.Context(), store.Event{Kind: store.EventDrift, Message: "kept"}); err != nil {
		t.Fatal(err)
	}
	// Directly, on the open database...
	if err := migrate(t.Context(), s.w.DB, migs); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if got := migrationRows(t, s); fmt.Sprint(got) != fmt.Sprint(first) {
		t.Errorf("second migrate changed schema_migrations: %v, was %v", got, first)
	}
	s.Close()
	// ...and by reopening the file.
	s2, err := Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	if got := migrationRows(t, s2); fmt.Sprint(got) != fmt.Sprint(first) {
		t.Errorf("reopen changed schema_migrations: %v, was %v", got, first)
	}
	events, err := s2.ListEvents(t.Context(), store.EventFilter{})
	if err != nil || len(events) != 1 || events[0].Message != "kept" {
		t.Errorf("after reopen: events %v, %v; want the one event written before", events, err)
	}
}

// TestMigrateAppliesOnlyNew upgrades a database across a made-up history.
func TestMigrateAppliesOnlyNew(t *testing.T) {
	ctx := t.Context()
	v1 := sqlstore.Migration{Version: 1, Name: "0001_a.sql", SQL: `CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);`}
	v2 := sqlstore.Migration{Version: 2, Name: "0002_b.sql", SQL: `CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (2);`}
	// A fresh file, opened without Open so that only these migrations run.
	fresh, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "raw.db"), true))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	fresh.SetMaxOpenConns(1)
	for _, step := range [][]sqlstore.Migration{{v1}, {v1}, {v1, v2}, {v1, v2}} {
		if err := migrate(ctx, fresh, step); err != nil {
			t.Fatalf("migrate %d: %v", len(step), err)
		}
	}
	var n int
	if err := fresh.QueryRowContext(ctx, `SELECT COUNT(*) FROM a`).Scan(&n); err != nil || n != 2 {
		t.Errorf("rows in a = %d (%v), want 2: each migration must run exactly once", n, err)
	}
	if v, err := schemaVersion(ctx, fresh); err != nil || v != 2 {
		t.Errorf("schema version = %d (%v), want 2", v, err)
	}

	// A failing migration leaves the previous version intact.
	bad := sqlstore.Migration{Version: 3, Name: "0003_bad.sql", SQL: `CREATE TABLE c (z INTEGER); SELECT * FROM nowhere;`}
	if err := migrate(ctx, fresh, []sqlstore.Migration{v1, v2, bad}); err == nil || !strings.Contains(err.Error(), "0003_bad.sql") {
		t.Errorf("bad migration: error = %v, want one naming 0003_bad.sql", err)
	}
	if v, _ := schemaVersion(ctx, fresh); v != 2 {
		t.Errorf("after failed migration: version %d, want 2", v)
	}
	if _, err := fresh.ExecContext(ctx, `SELECT * FROM c`); err == nil {
		t.Error("failed migration left table c behind")
	}
}

// TestMigrateFillsGaps: a database migrated to 1, 2 and 7 (a branch with
// 0007 merged first) later gets 5 and 6 from branches merged after it,
// each applied once, in order; and a database with a migration this
// binary lacks is refused.
func TestMigrateFillsGaps(t *testing.T) {
	ctx := t.Context()
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "gaps.db"), true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	step := func(v int) sqlstore.Migration {
		return sqlstore.Migration{Version: v, Name: fmt.Sprintf("%04d_m.sql", v), SQL: fmt.Sprintf(`INSERT INTO log (v) VALUES (%d);`, v)}
	}
	first := sqlstore.Migration{Version: 1, Name: "0001_log.sql", SQL: `CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, v INTEGER);`}
	for _, migs := range [][]sqlstore.Migration{
		{first, step(2), step(7)},
		{first, step(2), step(5), step(6), step(7)},
		{first, step(2), step(5), step(6), step(7)},
	} {
		if err := migrate(ctx, db, migs); err != nil {
			t.Fatalf("migrate %v: %v", migs, err)
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT v FROM log ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	rows.Close()
	if fmt.Sprint(got) != "[2 7 5 6]" {
		t.Errorf("applied %v, want [2 7 5 6]: each missing migration once, in order, the late ones after", got)
	}
	err = migrate(ctx, db, []sqlstore.Migration{first, step(2), step(6), step(7)})
	if err == nil || !strings.Contains(err.Error(), "database schema has migration 5, which this ladder does not know") {
		t.Errorf("migrate without 5 on a database that has it: error = %v", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, path := openTemp(t)
	migs, _ := sqlstore.LoadMigrations(migrationFS)
	known := migs[len(migs)-1].Version
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`, known+41); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(path)
	want := fmt.Sprintf("database schema version %d is newer than this ladder supports (%d); upgrade ladder", known+41, known)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open of a newer database: error = %v, want it to contain %q", err, want)
	}
}

// TestSharedFile opens the same file twice, as a CLI command and a running
// server would, and checks each sees the other's writes, including while
// both write at once.
func TestSharedFile(t *testing.T) {
	a, path := openTemp(t)
	defer a.Close()
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := t.Context()

	snap := snapshot.New("shop", strings.Repeat("ab", 32), map[string]snapshot.Artifact{
		"api": {Service: "api", Digest: "sha256:" + strings.Repeat("cd", 32)},
	}, "r1", snapshotTime)
	if _, err := a.PutSnapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetSnapshot(ctx, snap.ID[:8]); err != nil || got.ID != snap.ID {
		t.Errorf("b.GetSnapshot: %v, %v", got, err)
	}
	if created, err := b.PutSnapshot(ctx, snap); err != nil || created {
		t.Errorf("b.PutSnapshot of a's snapshot: created=%v, %v", created, err)
	}
	rel, err := b.CreateRelease(ctx, store.Release{Env: "prod", Site: "eu-1", Snapshot: snap.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.FinishRelease(ctx, rel.ID, store.PhaseSucceeded, "", snapshotTime); err != nil {
		t.Fatalf("a.FinishRelease of b's release: %v", err)
	}
	if got, err := b.GetRelease(ctx, rel.ID); err != nil || got.Phase != store.PhaseSucceeded {
		t.Errorf("b.GetRelease after a finished it: %+v, %v", got, err)
	}
	if err := b.FinishRelease(ctx, rel.ID, store.PhaseFailed, "", snapshotTime); !errors.Is(err, store.ErrConflict) {
		t.Errorf("b.FinishRelease after a finished it: %v, want ErrConflict", err)
	}

	// Both write concurrently; a tails b's events by ID.
	const perWriter = 25
	var wg sync.WaitGroup
	for i, s := range []*Store{a, a, b, b} {
		wg.Go(func() {
			for j := range perWriter {
				if _, err := s.AppendEvent(ctx, store.Event{Kind: store.EventDrift, Message: fmt.Sprintf("%d-%d", i, j)}); err != nil {
					t.Errorf("writer %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for name, s := range map[string]*Store{"a": a, "b": b} {
		events, err := s.ListEvents(ctx, store.EventFilter{})
		if err != nil || len(events) != 4*perWriter {
			t.Errorf("%s.ListEvents: %d events (%v), want %d", name, len(events), err, 4*perWriter)
		}
	}
}

var snapshotTime = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

// helperEnv names the database a child test process writes to; see
// TestSharedFileAcrossProcesses.
const helperEnv = "LADDER_SQLITE_HELPER_DB"

// TestSharedFileAcrossProcesses runs a second OS process (this test binary
// again) appending events while this one does, as a CLI command and a
// running server would: file locking, not just in-process coordination,
// must keep both working with nothing lost.
func TestSharedFileAcrossProcesses(t *testing.T) {
	if path := os.Getenv(helperEnv); path != "" {
		helperWrite(t, path)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	s, path := openTemp(t)
	defer s.Close()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSharedFileAcrossProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Start writing once the child is, so that the two really contend.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		events, err := s.ListEvents(t.Context(), store.EventFilter{Env: "child", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("child wrote nothing in 10s\n%s", out.String())
		}
	}
	for i := range helperEvents {
		if _, err := s.AppendEvent(t.Context(), store.Event{Kind: store.EventDrift, Env: "parent", Message: fmt.Sprint(i)}); err != nil {
			t.Errorf("parent AppendEvent %d: %v", i, err)
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child process: %v\n%s", err, out.String())
	}
	for _, env := range []string{"parent", "child"} {
		events, err := s.ListEvents(t.Context(), store.EventFilter{Env: env})
		if err != nil || len(events) != helperEvents {
			t.Errorf("events from %s: %d (%v), want %d", env, len(events), err, helperEvents)
		}
	}
	// Whether the writes actually overlapped depends on scheduling; say so
	// rather than fail, since either way nothing may be lost.
	all, err := s.ListEvents(t.Context(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	switches := 0
	for i := 1; i < len(all); i++ {
		if all[i].Env != all[i-1].Env {
			switches++
		}
	}
	t.Logf("writers alternated %d times in ID order", switches)
}

const helperEvents = 1000

func helperWrite(t *testing.T, path string) {
	s, err := Open(path)
	if err != nil {
		t.Fatalf("child Open: %v", err)
	}
	defer s.Close()
	for i := range helperEvents {
		if _, err := s.AppendEvent(context.Background(), store.Event{Kind: store.EventDrift, Env: "child", Message: fmt.Sprint(i)}); err != nil {
			t.Fatalf("child AppendEvent %d: %v", i, err)
		}
	}
}

// TestConcurrentFirstOpen opens one new database from several openers at
// the same moment, as two `ladder up` started together in a fresh
// directory do: every one must succeed and see the same store.
func TestConcurrentFirstOpen(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("r%d", round), "ladder.db")
		const n = 6
		var wg sync.WaitGroup
		ids := make([]string, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				s, err := Open(path)
				if err != nil {
					errs[i] = err
					return
				}
				ids[i] = s.ID()
				s.Close()
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d opener %d: %v", round, i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Fatalf("round %d: opener %d saw store %q, opener 0 %q", round, i, ids[i], ids[0])
			}
		}
	}
}

// TestMigrateFillsAGap: a database that got migration 3 before 2 existed
// (two changes numbered side by side, merged in either order) gets 2 when
// a binary that has it opens it, and 3 is not run again; a binary that
// lacks a recorded migration refuses the database.
func TestMigrateFillsAGap(t *testing.T) {
	ctx := t.Context()
	v1 := sqlstore.Migration{Version: 1, Name: "0001_a.sql", SQL: `CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);`}
	v2 := sqlstore.Migration{Version: 2, Name: "0002_b.sql", SQL: `CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (2);`}
	v3 := sqlstore.Migration{Version: 3, Name: "0003_c.sql", SQL: `CREATE TABLE c (z INTEGER); INSERT INTO a VALUES (3);`}
	fresh, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "raw.db"), true))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	fresh.SetMaxOpenConns(1)
	if err := migrate(ctx, fresh, []sqlstore.Migration{v1, v3}); err != nil {
		t.Fatalf("migrate 1, 3: %v", err)
	}
	if pending, _, err := pendingIfAny(ctx, fresh, []sqlstore.Migration{v1, v2, v3}); err != nil || !pending {
		t.Errorf("pendingIfAny with 2 missing = %v, %v; want true", pending, err)
	}
	if err := migrate(ctx, fresh, []sqlstore.Migration{v1, v2, v3}); err != nil {
		t.Fatalf("migrate 1, 2, 3: %v", err)
	}
	if err := migrate(ctx, fresh, []sqlstore.Migration{v1, v2, v3}); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	var got []int
	rows, err := fresh.QueryContext(ctx, `SELECT x FROM a ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var x int
		if err := rows.Scan(&x); err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
	}
	rows.Close()
	if fmt.Sprint(got) != "[1 3 2]" {
		t.Errorf("migrations ran as %v, want [1 3 2]: each exactly once, the gap filled last", got)
	}
	if pending, _, err := pendingIfAny(ctx, fresh, []sqlstore.Migration{v1, v2, v3}); err != nil || pending {
		t.Errorf("pendingIfAny when current = %v, %v; want false", pending, err)
	}
	err = migrate(ctx, fresh, []sqlstore.Migration{v1, v3})
	if err == nil || !strings.Contains(err.Error(), "migration 2, which this ladder does not know") {
		t.Errorf("a binary without migration 2: %v, want a refusal naming it", err)
	}
}
