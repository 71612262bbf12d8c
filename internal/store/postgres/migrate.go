package postgres

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

// migrationFS holds the schema history, numbered and named like the SQLite
// store's so that both schemas move together.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrateLockKey is the pg_advisory_lock key every ladder process takes
// while it migrates a database ("ladder" in ASCII, then 1).
const migrateLockKey int64 = 0x6c61646465720001

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
func migrate(ctx context.Context, pool *pgxpool.Pool, migs []sqlstore.Migration) error {
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
	if err := sqlstore.CheckKnown(applied, migs); err != nil {
		return err
	}
	for _, m := range migs {
		if applied[m.Version] {
			continue
		}
		if err := applyMigration(ctx, conn, m); err != nil {
			return err
		}
	}
	// The store's identity (store_meta "id", as in the SQLite store), made
	// once, when the store is created.
	if _, err := conn.Exec(ctx, `INSERT INTO store_meta (key, value) VALUES ('id', $1) ON CONFLICT (key) DO NOTHING`,
		sqlstore.NewStoreID()); err != nil {
		return fmt.Errorf("record the store's identity: %w", err)
	}
	return nil
}

func applyMigration(ctx context.Context, conn *pgxpool.Conn, m sqlstore.Migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// A migration file holds several statements: Exec without arguments
	// sends it with the simple protocol, which runs them all.
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.Version, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("migration %s: record version: %w", m.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return nil
}
