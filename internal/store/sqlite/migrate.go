package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

// migrationFS holds the schema history. Migrations are embedded so that a
// ladder binary carries exactly the schema it was written against.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrate applies every migration of migs that db has not recorded, in
// ascending order of version, each exactly once. It goes by the recorded
// set, not the highest version: a migration numbered below one already
// applied (a gap filled later) still runs. Each migration runs in its own
// transaction together with its schema_migrations row, so a failure leaves
// the database as it was before that migration, never half-migrated.
func migrate(ctx context.Context, db *sql.DB, migs []sqlstore.Migration) error {
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
	if err := sqlstore.CheckKnown(applied, migs); err != nil {
		return err
	}
	for _, m := range migs {
		if applied[m.Version] {
			continue
		}
		if err := applyMigration(ctx, db, m); err != nil {
			return err
		}
	}
	return nil
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
func pendingIfAny(ctx context.Context, db *sql.DB, migs []sqlstore.Migration) (pending bool, current int, err error) {
	current, err = schemaVersionIfAny(ctx, db)
	if err != nil || current == 0 {
		return false, current, err
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return false, current, err
	}
	for _, m := range migs {
		if !applied[m.Version] {
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

func applyMigration(ctx context.Context, db *sql.DB, m sqlstore.Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	defer tx.Rollback()
	// Another process opening the same file may have applied it between our
	// version check and this transaction, which holds the write lock.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.Version, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("migration %s: record version: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return nil
}
