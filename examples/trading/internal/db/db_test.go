package db

import (
	"context"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ladderhq/ladder/examples/trading/internal/seed"
	"github.com/ladderhq/ladder/internal/store/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func connect(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := Connect(context.Background(), pgtest.DB(t), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func count(t *testing.T, pool *pgxpool.Pool, query string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestMigrateIsIdempotentAndKeepsNewerVersions(t *testing.T) {
	ctx := context.Background()
	pool := connect(t)
	ms, err := Migrations()
	if err != nil || len(ms) < 2 || ms[0].Version != 1 || ms[1].Version != 2 {
		t.Fatalf("migrations %+v, %v", ms, err)
	}
	res, err := Migrate(ctx, pool, ms)
	if err != nil || len(res.Applied) != len(ms) {
		t.Fatalf("first run applied %d of %d: %v", len(res.Applied), len(ms), err)
	}
	res, err = Migrate(ctx, pool, ms)
	if err != nil || len(res.Applied) != 0 || len(res.Ahead) != 0 {
		t.Fatalf("second run: %+v, %v; want nothing applied", res, err)
	}
	// A later release expands the schema; this release's code and
	// migrations run on it unchanged (a rollback).
	later := append(ms, Migration{Version: 99, Name: "users_country", SQL: "ALTER TABLE users ADD COLUMN country text"})
	if _, err := Migrate(ctx, pool, later); err != nil {
		t.Fatal(err)
	}
	res, err = Migrate(ctx, pool, ms)
	if err != nil || len(res.Applied) != 0 || len(res.Ahead) != 1 || res.Ahead[0] != 99 {
		t.Fatalf("rollback run: %+v, %v; want version 99 ahead", res, err)
	}
	// v1's insert (what code from before 0002 does) still works.
	if _, err := pool.Exec(ctx, "INSERT INTO trades (user_id, symbol, side, qty, price) VALUES (1, 'AAPL', 'buy', 1, 100)"); err != nil {
		t.Errorf("a v1 insert on the expanded schema: %v", err)
	}
}

func TestFailedMigrationKeepsEarlierOnes(t *testing.T) {
	ctx := context.Background()
	pool := connect(t)
	ms, err := parseMigrations(fstest.MapFS{
		"m/0001_a.sql": {Data: []byte("CREATE TABLE a (id int)")},
		"m/0002_b.sql": {Data: []byte("CREATE TABLE nope (")},
	}, "m")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Migrate(ctx, pool, ms)
	if err == nil || len(res.Applied) != 1 {
		t.Fatalf("applied %d, err %v; want 0001 applied and 0002 failing", len(res.Applied), err)
	}
	if n := count(t, pool, "SELECT count(*) FROM schema_migrations"); n != 1 {
		t.Errorf("schema_migrations has %d rows, want 1", n)
	}
}

func TestSeedIsDeterministicAndIdempotent(t *testing.T) {
	ctx := context.Background()
	pool := connect(t)
	ms, _ := Migrations()
	if _, err := Migrate(ctx, pool, ms); err != nil {
		t.Fatal(err)
	}
	d := seed.Generate(seed.Default)
	n, err := Seed(ctx, pool, d)
	if err != nil || n != int64(len(d.Users)+len(d.Trades)) {
		t.Fatalf("seeded %d rows, %v", n, err)
	}
	if n, err := Seed(ctx, pool, d); err != nil || n != 0 {
		t.Fatalf("second seed inserted %d rows, %v; want 0", n, err)
	}
	var name string
	if err := pool.QueryRow(ctx, "SELECT name FROM users WHERE id = 1").Scan(&name); err != nil || name != "Radia Perlman" {
		t.Errorf("user 1 = %q, %v", name, err)
	}
	// New rows take the IDs after the seed's.
	var id int
	if err := pool.QueryRow(ctx, "INSERT INTO users (name, email) VALUES ('x', 'x@example.com') RETURNING id").Scan(&id); err != nil || id != len(d.Users)+1 {
		t.Errorf("next user id %d, %v; want %d", id, err, len(d.Users)+1)
	}
}

func TestApplies(t *testing.T) {
	for class, want := range map[string]bool{"": true, "throwaway": true, "seeded": true, "synthetic": false, "real": false} {
		if got := seed.Applies(class); got != want {
			t.Errorf("Applies(%q) = %v, want %v", class, got, want)
		}
	}
}
