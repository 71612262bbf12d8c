package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFS holds the schema history. Migrations are embedded so that a
// ladder binary carries exactly the schema it was written against.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered schema change, applied at most once per
// database.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads migrations/NNNN_name.sql from fsys, in version
// order. Versions are unique but need not be consecutive: branches
// developed side by side take numbers of their own, and whichever merges
// first leaves a gap until the other lands (migrate applies each missing
// one, in order, whenever it arrives).
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
			return nil, fmt.Errorf("migration %s: version %d is also %s (each version once)", migs[i].name, migs[i].version, migs[i-1].name)
		}
	}
	return migs, nil
}

// migrate brings db up to the last of migs. Each migration runs in its own
// transaction together with its schema_migrations row, so a failure leaves
// the database at the previous version, never half-migrated.
func migrate(ctx context.Context, db *sql.DB, migs []migration) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	known := 0
	if len(migs) > 0 {
		known = migs[len(migs)-1].version
	}
	current, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	// An older binary must not write to a schema it does not understand:
	// columns it does not know about would be left inconsistent.
	if current > known {
		return fmt.Errorf("database schema version %d is newer than this ladder supports (%d); upgrade ladder", current, known)
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return err
	}
	if err := unknownApplied(applied, migs); err != nil {
		return err
	}
	// Every migration not applied yet, in version order, including one
	// below the newest applied: a branch merged after a later-numbered
	// one brings it in after that one already ran.
	for _, m := range migs {
		if applied[m.version] {
			continue
		}
		if err := applyMigration(ctx, db, m); err != nil {
			return err
		}
	}
	return nil
}

// appliedVersions reads schema_migrations as a set of versions.
func appliedVersions(ctx context.Context, db *sql.DB) (map[int]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		out[v] = true
	}
	return out, rows.Err()
}

// unknownApplied refuses a database with a migration applied that migs
// lack (one from a build of ladder with a migration this one has not):
// this binary does not know what that migration changed.
func unknownApplied(applied map[int]bool, migs []migration) error {
	known := map[int]bool{}
	for _, m := range migs {
		known[m.version] = true
	}
	var missing []int
	for v := range applied {
		if !known[v] {
			missing = append(missing, v)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Ints(missing)
	return fmt.Errorf("database schema has migration %d, which this ladder does not know; use a ladder built with it", missing[0])
}

// schemaVersionIfAny is schemaVersion of a database that may not have
// schema_migrations yet (0 then).
func schemaVersionIfAny(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	return schemaVersion(ctx, db)
}

func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	defer tx.Rollback()
	// Another process opening the same file may have applied it between our
	// version check and this transaction, which holds the write lock.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.version, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("migration %s: record version: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return nil
}
