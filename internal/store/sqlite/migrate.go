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

// loadMigrations reads migrations/NNNN_name.sql from fsys, in ascending
// order of version. Versions must be positive and distinct; gaps are
// allowed, since changes made side by side pick numbers apart and may land
// in either order (see migrate).
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

// migrate applies every migration of migs that db has not recorded, in
// ascending order of version, each exactly once. It goes by the recorded
// set, not the highest version: a migration numbered below one already
// applied (a gap filled later) still runs. Each migration runs in its own
// transaction together with its schema_migrations row, so a failure leaves
// the database as it was before that migration, never half-migrated.
func migrate(ctx context.Context, db *sql.DB, migs []migration) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return err
	}
	if err := checkKnown(applied, migs); err != nil {
		return err
	}
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

// checkKnown refuses a database that recorded a migration this binary does
// not have: an older binary must not write to a schema it does not
// understand, since columns it does not know about would be left
// inconsistent.
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
	last := unknown[len(unknown)-1]
	if last > highest {
		return fmt.Errorf("database schema version %d is newer than this ladder supports (%d); upgrade ladder", last, highest)
	}
	return fmt.Errorf("database schema has migration %d, which this ladder does not know; upgrade ladder", unknown[0])
}

// appliedVersions is the set of versions schema_migrations records.
func appliedVersions(ctx context.Context, db *sql.DB) (map[int]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema versions: %w", err)
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema versions: %w", err)
		}
		out[v] = true
	}
	return out, rows.Err()
}

// pendingIfAny reports whether a database that may not have
// schema_migrations yet has recorded some migrations but not all of migs
// (an existing store about to be upgraded), and its highest version.
func pendingIfAny(ctx context.Context, db *sql.DB, migs []migration) (pending bool, current int, err error) {
	current, err = schemaVersionIfAny(ctx, db)
	if err != nil || current == 0 {
		return false, current, err
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return false, current, err
	}
	for _, m := range migs {
		if !applied[m.version] {
			return true, current, nil
		}
	}
	return false, current, nil
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
