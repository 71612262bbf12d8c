package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

const snapshotCols = `id, stack, stack_hash, artifacts, revision, created_ms`

// PutSnapshot implements store.Store.
//
// "Different content" means a different identity (stack, stack hash, or
// service -> digest set), which is all the ID is computed from. Provenance
// (revision, created time, an artifact's builder, inputs or size) may differ
// between two records of the same snapshot - the same image can be rebuilt
// from inputs that differ only in a comment - and the first record is kept.
func (s *Store) PutSnapshot(ctx context.Context, snap *snapshot.Snapshot) (bool, error) {
	created := snap.Created
	if created.IsZero() {
		created = sqlstore.Now()
	}
	arts, err := json.Marshal(snap.Artifacts)
	if err != nil {
		return false, fmt.Errorf("store: put snapshot %s: %w", snapshot.Short(snap.ID), err)
	}
	// ON CONFLICT DO NOTHING makes "insert unless known" a single atomic
	// statement, so two processes recording the same snapshot cannot both
	// see created=true.
	res, err := s.w.ExecContext(ctx, `INSERT INTO snapshots (`+snapshotCols+`)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
		snap.ID, snap.Stack, snap.StackHash, string(arts), snap.Revision, sqlstore.Millis(created))
	if err != nil {
		return false, fmt.Errorf("store: put snapshot %s: %w", snapshot.Short(snap.ID), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: put snapshot %s: %w", snapshot.Short(snap.ID), err)
	}
	if n == 1 {
		return true, nil
	}
	// Snapshots are never updated, and deleted only by CollectSnapshots,
	// which keeps a stack's newest: the row that won is still there to
	// compare against.
	old, err := s.snapshotByID(ctx, snap.ID)
	if err != nil {
		return false, fmt.Errorf("store: put snapshot %s: %w", snapshot.Short(snap.ID), err)
	}
	if !snapshot.SameIdentity(old, snap) {
		return false, fmt.Errorf("store: put snapshot %s: stored with different content: %w", snapshot.Short(snap.ID), store.ErrConflict)
	}
	return false, nil
}

func (s *Store) snapshotByID(ctx context.Context, id string) (*snapshot.Snapshot, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+snapshotCols+` FROM snapshots WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	snaps, err := scanSnapshots(rows)
	if err != nil {
		return nil, err
	}
	if len(snaps) == 0 {
		return nil, store.ErrNotFound
	}
	return snaps[0], nil
}

// GetSnapshot implements store.Store.
func (s *Store) GetSnapshot(ctx context.Context, idOrPrefix string) (*snapshot.Snapshot, error) {
	// Validating first also keeps LIKE-style wildcards and odd characters
	// out of the range query below.
	if !snapshot.ValidPrefix(idOrPrefix) {
		return nil, fmt.Errorf("store: get snapshot %q: not a snapshot ID or prefix of at least 4 hex digits: %w", idOrPrefix, store.ErrNotFound)
	}
	// Every ID starting with p lies in [p, p+"g"): IDs are lowercase hex and
	// 'g' sorts after 'f'. A range, unlike LIKE, uses the primary key index
	// on SQLite. PostgreSQL: compare with COLLATE "C" so the order is
	// bytewise whatever the database's collation.
	rows, err := s.r.QueryContext(ctx, `SELECT `+snapshotCols+` FROM snapshots
		WHERE id >= $1 AND id < $2 ORDER BY id LIMIT 2`, idOrPrefix, idOrPrefix+"g")
	if err != nil {
		return nil, fmt.Errorf("store: get snapshot %s: %w", idOrPrefix, err)
	}
	snaps, err := scanSnapshots(rows)
	if err != nil {
		return nil, fmt.Errorf("store: get snapshot %s: %w", idOrPrefix, err)
	}
	switch len(snaps) {
	case 0:
		return nil, fmt.Errorf("store: get snapshot %s: %w", idOrPrefix, store.ErrNotFound)
	case 1:
		return snaps[0], nil
	default:
		return nil, fmt.Errorf("store: get snapshot %s: matches %s and %s: %w", idOrPrefix,
			snapshot.Short(snaps[0].ID), snapshot.Short(snaps[1].ID), store.ErrAmbiguous)
	}
}

// ListSnapshots implements store.Store. Newest means latest Created; the ID
// breaks ties so the order is stable.
func (s *Store) ListSnapshots(ctx context.Context, f store.SnapshotFilter) ([]*snapshot.Snapshot, error) {
	var q query
	if f.Before != "" {
		var created int64
		err := s.r.QueryRowContext(ctx, `SELECT created_ms FROM snapshots WHERE id = $1`, f.Before).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("store: list snapshots before %s: %w", snapshot.Short(f.Before), store.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("store: list snapshots: %w", err)
		}
		q.conds = append(q.conds, "(created_ms < "+q.arg(created)+" OR (created_ms = "+q.arg(created)+" AND id < "+q.arg(f.Before)+"))")
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+snapshotCols+` FROM snapshots`+
		q.whereSQL()+` ORDER BY created_ms DESC, id DESC`+q.limitSQL(f.Limit), q.args...)
	if err != nil {
		return nil, fmt.Errorf("store: list snapshots: %w", err)
	}
	snaps, err := scanSnapshots(rows)
	if err != nil {
		return nil, fmt.Errorf("store: list snapshots: %w", err)
	}
	return snaps, nil
}

func scanSnapshots(rows *sql.Rows) ([]*snapshot.Snapshot, error) {
	defer rows.Close()
	var out []*snapshot.Snapshot
	for rows.Next() {
		var (
			snap    snapshot.Snapshot
			arts    string
			created int64
		)
		if err := rows.Scan(&snap.ID, &snap.Stack, &snap.StackHash, &arts, &snap.Revision, &created); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(arts), &snap.Artifacts); err != nil {
			return nil, fmt.Errorf("snapshot %s: decode artifacts: %w", snapshot.Short(snap.ID), err)
		}
		snap.Created = sqlstore.Time(created)
		out = append(out, &snap)
	}
	return out, rows.Err()
}

// PutArtifact implements store.Store. A rebuild from the same inputs
// replaces the cached row, so LookupArtifact returns the latest build.
func (s *Store) PutArtifact(ctx context.Context, a snapshot.Artifact) error {
	// ON CONFLICT ... DO UPDATE with excluded.* is the same on PostgreSQL.
	_, err := s.w.ExecContext(ctx, `INSERT INTO artifacts (service, inputs, digest, builder, size)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (service, inputs) DO UPDATE SET
			digest = excluded.digest, builder = excluded.builder, size = excluded.size`,
		a.Service, a.Inputs, a.Digest, a.Builder, a.Size)
	if err != nil {
		return fmt.Errorf("store: put artifact %s %s: %w", a.Service, a.Inputs, err)
	}
	return nil
}

// LookupArtifact implements store.Store.
func (s *Store) LookupArtifact(ctx context.Context, service, inputs string) (snapshot.Artifact, error) {
	a := snapshot.Artifact{Service: service, Inputs: inputs}
	err := s.r.QueryRowContext(ctx, `SELECT digest, builder, size FROM artifacts
		WHERE service = $1 AND inputs = $2`, service, inputs).Scan(&a.Digest, &a.Builder, &a.Size)
	if errors.Is(err, sql.ErrNoRows) {
		return snapshot.Artifact{}, fmt.Errorf("store: lookup artifact %s %s: %w", service, inputs, store.ErrNotFound)
	}
	if err != nil {
		return snapshot.Artifact{}, fmt.Errorf("store: lookup artifact %s %s: %w", service, inputs, err)
	}
	return a, nil
}

// collectSQL is CollectSnapshots' statement, the same in both stores.
const collectSQL = `DELETE FROM snapshots WHERE stack = $1
	AND id NOT IN (SELECT id FROM snapshots WHERE stack = $1 ORDER BY created_ms DESC, id DESC LIMIT $3)
	AND id NOT IN (SELECT snapshot FROM releases WHERE env <> $2)
	AND id NOT IN (SELECT snapshot FROM promotions)
	AND id NOT IN (SELECT snapshot FROM approvals)
	AND id NOT IN (SELECT snapshot FROM instances)
	RETURNING id`

// CollectSnapshots implements store.Store.
func (s *Store) CollectSnapshots(ctx context.Context, stack, env string, keep int) ([]string, error) {
	if keep < 1 {
		return nil, fmt.Errorf("store: collect snapshots: keep %d is less than 1", keep)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: collect snapshots: %w", err)
	}
	defer tx.Rollback()
	ids, err := collected(tx.QueryContext(ctx, collectSQL, stack, env, keep))
	if err != nil {
		return nil, fmt.Errorf("store: collect snapshots: %w", err)
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `DELETE FROM release_transitions WHERE release_id IN (SELECT id FROM releases WHERE env = $1 AND snapshot = $2)`, env, id); err != nil {
			return nil, fmt.Errorf("store: collect snapshots: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM releases WHERE env = $1 AND snapshot = $2`, env, id); err != nil {
			return nil, fmt.Errorf("store: collect snapshots: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: collect snapshots: %w", err)
	}
	return ids, nil
}

func collected(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, rows.Err()
}
