package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ladderhq/ladder/internal/store"
)

const releaseCols = `id, env, site, snapshot, phase, reason, owner, started_ms, finished_ms, known_good, by_actor`

// CreateRelease implements store.Store, with the SQLite store's defaults: a
// zero Started is now, an empty Phase is progressing, and KnownGood is only
// allowed on a release created succeeded.
func (s *Store) CreateRelease(ctx context.Context, r store.Release) (store.Release, error) {
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	r.Started = norm(r.Started)
	if !r.Finished.IsZero() {
		r.Finished = norm(r.Finished)
	}
	if r.Phase == "" {
		r.Phase = store.PhaseProgressing
	}
	var knownGoodAt *int64
	if r.KnownGood {
		if r.Phase != store.PhaseSucceeded {
			return store.Release{}, fmt.Errorf("store: create release of %s to %s/%s: known-good release must be %s, not %s",
				r.Snapshot, r.Env, r.Site, store.PhaseSucceeded, r.Phase)
		}
		ms := toMS(r.Started)
		if !r.Finished.IsZero() {
			ms = toMS(r.Finished)
		}
		knownGoodAt = &ms
	}
	err := s.pool.QueryRow(ctx, `INSERT INTO releases
		(env, site, snapshot, phase, reason, owner, started_ms, finished_ms, known_good, known_good_ms, by_actor)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		r.Env, r.Site, r.Snapshot, string(r.Phase), r.Reason, r.Owner, toMS(r.Started), nullMS(r.Finished),
		r.KnownGood, knownGoodAt, r.By,
	).Scan(&r.ID)
	if err != nil {
		return store.Release{}, s.wrap(err, "create release of %s to %s/%s", r.Snapshot, r.Env, r.Site)
	}
	return r, nil
}

// FinishRelease implements store.Store. A zero at is taken as now.
func (s *Store) FinishRelease(ctx context.Context, id int64, phase store.Phase, reason string, at time.Time) error {
	if !phase.IsTerminal() {
		return fmt.Errorf("store: finish release %d: phase %q is not terminal", id, phase)
	}
	if at.IsZero() {
		at = time.Now()
	}
	// The phase test in the WHERE clause is evaluated on the row the UPDATE
	// has locked (re-read if another transaction changed it first), so of
	// two processes finishing the same release one wins and the other sees
	// zero rows.
	tag, err := s.pool.Exec(ctx, `UPDATE releases SET phase = $1, reason = $2, finished_ms = $3
		WHERE id = $4 AND phase NOT IN ($5, $6, $7)`,
		string(phase), reason, toMS(at), id,
		string(store.PhaseSucceeded), string(store.PhaseFailed), string(store.PhaseInterrupted))
	if err != nil {
		return s.wrap(err, "finish release %d", id)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// Releases are never deleted, so telling "unknown" from "already
	// finished" after the fact is race-free.
	var current string
	err = s.pool.QueryRow(ctx, `SELECT phase FROM releases WHERE id = $1`, id).Scan(&current)
	if noRows(err) {
		return fmt.Errorf("store: finish release %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return s.wrap(err, "finish release %d", id)
	}
	return fmt.Errorf("store: finish release %d: already %s: %w", id, current, store.ErrConflict)
}

// GetRelease implements store.Store.
func (s *Store) GetRelease(ctx context.Context, id int64) (store.Release, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+releaseCols+` FROM releases WHERE id = $1`, id)
	if err != nil {
		return store.Release{}, s.wrap(err, "get release %d", id)
	}
	rels, err := scanReleases(rows)
	if err != nil {
		return store.Release{}, s.wrap(err, "get release %d", id)
	}
	if len(rels) == 0 {
		return store.Release{}, fmt.Errorf("store: get release %d: %w", id, store.ErrNotFound)
	}
	return rels[0], nil
}

// ListReleases implements store.Store: newest (highest ID) first.
func (s *Store) ListReleases(ctx context.Context, f store.ReleaseFilter) ([]store.Release, error) {
	var q query
	q.eq("env", f.Env)
	q.eq("site", f.Site)
	q.eq("snapshot", f.Snapshot)
	q.eq("phase", string(f.Phase))
	if f.KnownGood {
		// The partial index releases_known_good's condition.
		q.conds = append(q.conds, "known_good")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+releaseCols+` FROM releases`+
		q.whereSQL()+` ORDER BY id DESC`+q.limitSQL(f.Limit), q.args...)
	if err != nil {
		return nil, s.wrap(err, "list releases")
	}
	rels, err := scanReleases(rows)
	if err != nil {
		return nil, s.wrap(err, "list releases")
	}
	return rels, nil
}

func scanReleases(rows pgx.Rows) ([]store.Release, error) {
	defer rows.Close()
	var out []store.Release
	for rows.Next() {
		var (
			r        store.Release
			phase    string
			started  int64
			finished *int64
		)
		if err := rows.Scan(&r.ID, &r.Env, &r.Site, &r.Snapshot, &phase, &r.Reason, &r.Owner, &started, &finished,
			&r.KnownGood, &r.By); err != nil {
			return nil, err
		}
		r.Phase = store.Phase(phase)
		r.Started = fromMS(started)
		r.Finished = fromNullMS(finished)
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkKnownGood implements store.Store. Marking a release that is already
// known-good succeeds and keeps the first marking's time.
//
// One statement decides and writes: the UPDATE locks the row and checks
// its phase as it is then, so a release cannot be marked just after
// another process moved it away from succeeded. Zero rows means it is
// unknown or not succeeded, told apart by reading it afterwards (a
// succeeded release never changes phase again).
func (s *Store) MarkKnownGood(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		at = time.Now()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE releases
		SET known_good = TRUE, known_good_ms = COALESCE(known_good_ms, $1)
		WHERE id = $2 AND phase = $3`, toMS(at), id, string(store.PhaseSucceeded))
	if err != nil {
		return s.wrap(err, "mark release %d known-good", id)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var phase string
	err = s.pool.QueryRow(ctx, `SELECT phase FROM releases WHERE id = $1`, id).Scan(&phase)
	if noRows(err) {
		return fmt.Errorf("store: mark release %d known-good: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return s.wrap(err, "mark release %d known-good", id)
	}
	return fmt.Errorf("store: mark release %d known-good: it is %s, not %s: %w", id, phase, store.PhaseSucceeded, store.ErrConflict)
}
