package postgres

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/postgres/pgtest"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
	"github.com/ladderhq/ladder/internal/store/storetest"
)

// TestMigrationsMatchSQLite: both stores' schema histories move together,
// migration for migration, so a database of either kind at version N has
// the same concepts. A migration added to one store alone fails here.
func TestMigrationsMatchSQLite(t *testing.T) {
	names := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".sql") {
				out = append(out, e.Name())
			}
		}
		return out
	}
	pg, lite := names("migrations"), names("../sqlite/migrations")
	if !slices.Equal(pg, lite) {
		t.Errorf("PostgreSQL migrations %v, SQLite migrations %v: every migration needs both", pg, lite)
	}
	if _, err := sqlstore.LoadMigrations(migrationFS); err != nil {
		t.Errorf("loadMigrations: %v", err)
	}
}

// migrationRows returns schema_migrations as version -> applied_at.
func migrationRows(t *testing.T, s *Store) map[int]int64 {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT version, applied_at FROM schema_migrations`)
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
		t.Fatal(err)
	}
	s, dsn := openTemp(t)
	first := migrationRows(t, s)
	if len(first) != len(migs) {
		t.Fatalf("after Open: %d migrations recorded, want %d", len(first), len(migs))
	}
	if _, err := s.AppendEvent(t.Context(), store.Event{Kind: store.EventDrift, Message: "kept"}); err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), s.pool, migs); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	s.Close()
	s2, err := Open(t.Context(), dsn)
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

// TestMigrateConcurrently opens an empty database from several processes'
// worth of pools at the same moment, as replicas starting together do:
// every Open succeeds and each migration is applied exactly once. Without
// the advisory lock, two of them race on CREATE TABLE and one fails.
func TestMigrateConcurrently(t *testing.T) {
	migs, err := sqlstore.LoadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	const rounds, openers = 3, 4
	for round := range rounds {
		dsn := pgtest.DB(t)
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			stores []*Store
		)
		start := make(chan struct{})
		for range openers {
			wg.Go(func() {
				<-start
				s, err := Open(t.Context(), dsn)
				if err != nil {
					t.Errorf("round %d: concurrent Open: %v", round, err)
					return
				}
				mu.Lock()
				stores = append(stores, s)
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if len(stores) == 0 {
			t.FailNow()
		}
		if got := migrationRows(t, stores[0]); len(got) != len(migs) {
			t.Errorf("round %d: schema_migrations %v, want %d versions", round, got, len(migs))
		}
		// Each store works on the schema the others created.
		for i, s := range stores {
			if _, err := s.AppendEvent(t.Context(), store.Event{Kind: store.EventDrift, Message: fmt.Sprint(i)}); err != nil {
				t.Errorf("round %d: store %d: AppendEvent: %v", round, i, err)
			}
			s.Close()
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, dsn := openTemp(t)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(t.Context(), dsn)
	if err == nil {
		s2.Close()
		t.Fatal("Open of a database from a newer ladder: no error")
	}
	if !strings.Contains(err.Error(), "newer than this ladder supports") {
		t.Errorf("Open: %v, want it to say the schema is newer", err)
	}
}

// TestStoreIdentity: a store gets an identity when it is created, and
// keeps it across opens.
func TestStoreIdentity(t *testing.T) {
	s, dsn := openTemp(t)
	id := func(s *Store) string {
		var v string
		if err := s.pool.QueryRow(t.Context(), `SELECT value FROM store_meta WHERE key = 'id'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := id(s)
	s.Close()
	if len(first) != 32 {
		t.Errorf("store identity %q, want 32 hex digits", first)
	}
	s2, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := id(s2); got != first {
		t.Errorf("identity after reopen %q, want %q", got, first)
	}
}

// TestMigrateFillsAGap: a database that got migration 3 before 2 existed
// gets 2 when a binary that has it opens it, and 3 is not run again; a
// binary that lacks a recorded migration refuses the database.
func TestMigrateFillsAGap(t *testing.T) {
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	v1 := sqlstore.Migration{Version: 1, Name: "0001_a.sql", SQL: `CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
		CREATE TABLE a (seq SERIAL PRIMARY KEY, x INTEGER); INSERT INTO a (x) VALUES (1);`}
	v2 := sqlstore.Migration{Version: 2, Name: "0002_b.sql", SQL: `INSERT INTO a (x) VALUES (2);`}
	v3 := sqlstore.Migration{Version: 3, Name: "0003_c.sql", SQL: `INSERT INTO a (x) VALUES (3);`}
	for _, step := range [][]sqlstore.Migration{{v1, v3}, {v1, v2, v3}, {v1, v2, v3}} {
		if err := migrate(ctx, pool, step); err != nil {
			t.Fatalf("migrate %d: %v", len(step), err)
		}
	}
	rows, err := pool.Query(ctx, `SELECT x FROM a ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
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
	err = migrate(ctx, pool, []sqlstore.Migration{v1, v3})
	if err == nil || !strings.Contains(err.Error(), "migration 2, which this ladder does not know") {
		t.Errorf("a binary without migration 2: %v, want a refusal naming it", err)
	}
}

// TestUpgradeKeepsVerdicts: a schema at version 8, whose releases'
// known-good verdicts are only in their events, gives each release its
// first verdict; one never judged has none.
func TestUpgradeKeepsVerdicts(t *testing.T) {
	ctx := t.Context()
	url := pgtest.Schema(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	migs, err := sqlstore.LoadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, pool, migs[:8]); err != nil {
		t.Fatal(err)
	}
	for _, q := range storetest.LegacyVerdicts {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := migrate(ctx, pool, migs); err != nil {
		t.Fatalf("migrate to %d: %v", migs[len(migs)-1].Version, err)
	}
	for id, want := range storetest.LegacyVerdictsWant {
		var got string
		if err := pool.QueryRow(ctx, `SELECT verdict FROM releases WHERE id = $1`, id).Scan(&got); err != nil || got != want {
			t.Errorf("release %d: verdict %q (%v), want %q", id, got, err, want)
		}
	}
}
