package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

const snapshotCols = `id, stack, stack_hash, artifacts, revision, created_ms`

// PutSnapshot implements store.Store, with the SQLite store's rule: only
// the identity (stack, stack hash, service digests) can conflict; the first
// record's provenance is kept.
func (s *Store) PutSnapshot(ctx context.Context, snap *snapshot.Snapshot) (bool, error) {
	created := snap.Created
	if created.IsZero() {
		created = sqlstore.Now()
	}
	arts, err := json.Marshal(snap.Artifacts)
	if err != nil {
		return false, s.wrap(err, "put snapshot %s", snapshot.Short(snap.ID))
	}
	// ON CONFLICT DO NOTHING makes "insert unless known" one atomic
	// statement: of two processes recording the same snapshot, one is told
	// it created it.
	tag, err := s.pool.Exec(ctx, `INSERT INTO snapshots (`+snapshotCols+`)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
		snap.ID, snap.Stack, snap.StackHash, string(arts), snap.Revision, sqlstore.Millis(created))
	if err != nil {
		return false, s.wrap(err, "put snapshot %s", snapshot.Short(snap.ID))
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	// Snapshots are never updated or deleted, so the row that won is still
	// there to compare against.
	old, err := s.snapshotByID(ctx, snap.ID)
	if err != nil {
		return false, s.wrap(err, "put snapshot %s", snapshot.Short(snap.ID))
	}
	if !snapshot.SameIdentity(old, snap) {
		return false, fmt.Errorf("store: put snapshot %s: stored with different content: %w", snapshot.Short(snap.ID), store.ErrConflict)
	}
	return false, nil
}

func (s *Store) snapshotByID(ctx context.Context, id string) (*snapshot.Snapshot, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+snapshotCols+` FROM snapshots WHERE id = $1`, id)
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
	if !snapshot.ValidPrefix(idOrPrefix) {
		return nil, fmt.Errorf("store: get snapshot %q: not a snapshot ID or prefix of at least 4 hex digits: %w", idOrPrefix, store.ErrNotFound)
	}
	// Every ID starting with p lies in [p, p+"g"): IDs are lowercase hex,
	// 'g' sorts after 'f', and the column's collation is "C" (bytewise),
	// so the primary key index serves the range.
	rows, err := s.pool.Query(ctx, `SELECT `+snapshotCols+` FROM snapshots
		WHERE id >= $1 AND id < $2 ORDER BY id LIMIT 2`, idOrPrefix, idOrPrefix+"g")
	if err != nil {
		return nil, s.wrap(err, "get snapshot %s", idOrPrefix)
	}
	snaps, err := scanSnapshots(rows)
	if err != nil {
		return nil, s.wrap(err, "get snapshot %s", idOrPrefix)
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

// ListSnapshots implements store.Store: newest Created first, the ID
// breaking ties.
func (s *Store) ListSnapshots(ctx context.Context, f store.SnapshotFilter) ([]*snapshot.Snapshot, error) {
	var q query
	if f.Before != "" {
		var created int64
		err := s.pool.QueryRow(ctx, `SELECT created_ms FROM snapshots WHERE id = $1`, f.Before).Scan(&created)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("store: list snapshots before %s: %w", snapshot.Short(f.Before), store.ErrNotFound)
		}
		if err != nil {
			return nil, s.wrap(err, "list snapshots")
		}
		q.conds = append(q.conds, "(created_ms < "+q.arg(created)+" OR (created_ms = "+q.arg(created)+" AND id < "+q.arg(f.Before)+"))")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+snapshotCols+` FROM snapshots`+
		q.whereSQL()+` ORDER BY created_ms DESC, id DESC`+q.limitSQL(f.Limit), q.args...)
	if err != nil {
		return nil, s.wrap(err, "list snapshots")
	}
	snaps, err := scanSnapshots(rows)
	if err != nil {
		return nil, s.wrap(err, "list snapshots")
	}
	return snaps, nil
}

func scanSnapshots(rows pgx.Rows) ([]*snapshot.Snapshot, error) {
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
	_, err := s.pool.Exec(ctx, `INSERT INTO artifacts (service, inputs, digest, builder, size)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (service, inputs) DO UPDATE SET
			digest = excluded.digest, builder = excluded.builder, size = excluded.size`,
		a.Service, a.Inputs, a.Digest, a.Builder, a.Size)
	return s.wrap(err, "put artifact %s %s", a.Service, a.Inputs)
}

// LookupArtifact implements store.Store.
func (s *Store) LookupArtifact(ctx context.Context, service, inputs string) (snapshot.Artifact, error) {
	a := snapshot.Artifact{Service: service, Inputs: inputs}
	err := s.pool.QueryRow(ctx, `SELECT digest, builder, size FROM artifacts
		WHERE service = $1 AND inputs = $2`, service, inputs).Scan(&a.Digest, &a.Builder, &a.Size)
	if noRows(err) {
		return snapshot.Artifact{}, fmt.Errorf("store: lookup artifact %s %s: %w", service, inputs, store.ErrNotFound)
	}
	if err != nil {
		return snapshot.Artifact{}, s.wrap(err, "lookup artifact %s %s", service, inputs)
	}
	return a, nil
}

// CollectSnapshots implements store.Store.
func (s *Store) CollectSnapshots(ctx context.Context, stack, env string, keep int) ([]string, error) {
	if keep < 1 {
		return nil, fmt.Errorf("store: collect snapshots: keep %d is less than 1", keep)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, s.wrap(err, "collect snapshots")
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `DELETE FROM snapshots WHERE stack = $1
	AND id NOT IN (SELECT id FROM snapshots WHERE stack = $1 ORDER BY created_ms DESC, id DESC LIMIT $3)
	AND id NOT IN (SELECT snapshot FROM releases WHERE env <> $2)
	AND id NOT IN (SELECT snapshot FROM promotions)
	AND id NOT IN (SELECT snapshot FROM approvals)
	AND id NOT IN (SELECT snapshot FROM instances)
	RETURNING id`, stack, env, keep)
	if err != nil {
		return nil, s.wrap(err, "collect snapshots")
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, s.wrap(err, "collect snapshots")
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "collect snapshots")
	}
	if len(ids) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM release_transitions WHERE release_id IN (SELECT id FROM releases WHERE env = $1 AND snapshot = ANY($2))`, env, ids); err != nil {
			return nil, s.wrap(err, "collect snapshots")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM releases WHERE env = $1 AND snapshot = ANY($2)`, env, ids); err != nil {
			return nil, s.wrap(err, "collect snapshots")
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, s.wrap(err, "collect snapshots")
	}
	sort.Strings(ids)
	return ids, nil
}
