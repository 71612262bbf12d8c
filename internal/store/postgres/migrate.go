package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFS holds the schema history, numbered and named like the SQLite
// store's so that both schemas move together.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrateLockKey is the pg_advisory_lock key every ladder process takes
// while it migrates a database ("ladder" in ASCII, then 1).
const migrateLockKey int64 = 0x6c61646465720001

// migration is one numbered schema change, applied at most once per
// database.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads migrations/NNNN_name.sql from fsys, in ascending
// order of version. Versions must be positive and distinct; gaps are
// allowed (see migrate).
func loadMigrations(fsys fs.FS) ([]migration, error) {
	const dir = "migrations"
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var migs []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		migs = append(migs, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	for i := 1; i < len(migs); i++ {
		if migs[i].version == migs[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version %d: renumber one", migs[i-1].name, migs[i].name, migs[i].version)
		}
	}
	return migs, nil
}

// migrate applies every migration of migs the database has not recorded,
// in ascending order of version, each exactly once. It goes by the
// recorded set, not the highest version: a migration numbered below one
// already applied (a gap filled later) still runs.
//
// It runs on one connection holding a session-level advisory lock, so two
// processes opening a new database at the same moment take turns: the
// second finds the schema already current. (Without it, both would race
// on CREATE TABLE, and PostgreSQL can fail one of two concurrent CREATE
// TABLE IF NOT EXISTS with a unique violation.) If the process dies, its
// connection closes and the lock goes with it. Each migration runs in its
// own transaction together with its schema_migrations row - PostgreSQL's
// DDL is transactional - so a failure leaves the previous version.
func migrate(ctx context.Context, pool *pgxpool.Pool, migs []migration) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return fmt.Errorf("lock for migration: %w", err)
	}
	defer func() {
		// A failed unlock (the connection broke) frees the lock anyway
		// when the server drops the session; make sure that happens.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockKey); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("read schema versions: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("read schema versions: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read schema versions: %w", err)
	}
	// An older binary must not write to a schema it does not understand.
	if err := checkKnown(applied, migs); err != nil {
		return err
	}
	for _, m := range migs {
		if applied[m.version] {
			continue
		}
		if err := applyMigration(ctx, conn, m); err != nil {
			return err
		}
	}
	// The store's identity (store_meta "id", as in the SQLite store), made
	// once, when the store is created.
	if _, err := conn.Exec(ctx, `INSERT INTO store_meta (key, value) VALUES ('id', $1) ON CONFLICT (key) DO NOTHING`,
		newStoreID()); err != nil {
		return fmt.Errorf("record the store's identity: %w", err)
	}
	return nil
}

// newStoreID returns a random store identity.
func newStoreID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// checkKnown refuses a database that recorded a migration this binary
// does not have.
func checkKnown(applied map[int]bool, migs []migration) error {
	known := map[int]bool{}
	highest := 0
	for _, m := range migs {
		known[m.version] = true
		highest = max(highest, m.version)
	}
	var unknown []int
	for v := range applied {
		if !known[v] {
			unknown = append(unknown, v)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Ints(unknown)
	if last := unknown[len(unknown)-1]; last > highest {
		return fmt.Errorf("database schema version %d is newer than this ladder supports (%d); upgrade ladder", last, highest)
	}
	return fmt.Errorf("database schema has migration %d, which this ladder does not know; upgrade ladder", unknown[0])
}

func applyMigration(ctx context.Context, conn *pgxpool.Conn, m migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// A migration file holds several statements: Exec without arguments
	// sends it with the simple protocol, which runs them all.
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.version, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("migration %s: record version: %w", m.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return nil
}
