package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

const releaseCols = `id, number, env, site, snapshot, phase, reason, owner, started_ms, finished_ms, known_good, by_actor, target, secret_fingerprints, engine, verdict`

// CreateRelease implements store.Store. A zero Started is set to now and an
// empty Phase to PhaseProgressing, mirroring AppendEvent, so a caller need
// only say what is being released where. KnownGood may only be set on a
// release created succeeded, as MarkKnownGood requires.
func (s *Store) CreateRelease(ctx context.Context, r store.Release) (store.Release, error) {
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	r.Started = sqlstore.Norm(r.Started)
	if !r.Finished.IsZero() {
		r.Finished = sqlstore.Norm(r.Finished)
	}
	if r.Phase == "" {
		r.Phase = store.PhaseProgressing
	}
	// known_good_ms records when the release was marked; for one created
	// known-good that is when it finished (or, failing that, started).
	var knownGoodAt any
	if r.KnownGood {
		if r.Phase != store.PhaseSucceeded {
			return store.Release{}, fmt.Errorf("store: create release of %s to %s/%s: known-good release must be %s, not %s",
				r.Snapshot, r.Env, r.Site, store.PhaseSucceeded, r.Phase)
		}
		knownGoodAt = sqlstore.Millis(r.Started)
		if !r.Finished.IsZero() {
			knownGoodAt = sqlstore.Millis(r.Finished)
		}
	}
	var fingerprints sql.NullString
	if len(r.SecretFingerprints) > 0 {
		b, err := json.Marshal(r.SecretFingerprints)
		if err != nil {
			return store.Release{}, fmt.Errorf("store: create release of %s to %s/%s: %w", r.Snapshot, r.Env, r.Site, err)
		}
		fingerprints = sql.NullString{String: string(b), Valid: true}
	} else {
		r.SecretFingerprints = nil
	}
	// RETURNING rather than LastInsertId: PostgreSQL drivers have no
	// LastInsertId, and both engines support RETURNING.
	// The number is the environment's next; the single writer connection
	// (and SQLite's write lock across processes) makes read and insert
	// one step.
	err := s.w.QueryRowContext(ctx, `INSERT INTO releases
		(number, env, site, snapshot, phase, reason, owner, started_ms, finished_ms, known_good, known_good_ms, by_actor, target, secret_fingerprints, engine)
		VALUES ((SELECT COALESCE(MAX(number), 0) + 1 FROM releases WHERE env = $1),
			$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id, number`,
		r.Env, r.Site, r.Snapshot, string(r.Phase), r.Reason, r.Owner, sqlstore.Millis(r.Started), nullMS(r.Finished),
		r.KnownGood, knownGoodAt, r.By, r.Target, fingerprints, r.Engine,
	).Scan(&r.ID, &r.Number)
	if err != nil {
		return store.Release{}, fmt.Errorf("store: create release of %s to %s/%s: %w", r.Snapshot, r.Env, r.Site, err)
	}
	s.markReleases()
	return r, nil
}

// FinishRelease implements store.Store: the release's current phase is
// read and moved on in one write transaction (BEGIN IMMEDIATE), so of two
// processes finishing the same release one wins and the other is told it
// is already finished.
func (s *Store) FinishRelease(ctx context.Context, id int64, phase store.Phase, reason string, at time.Time) error {
	if !phase.IsTerminal() {
		return fmt.Errorf("store: finish release %d: phase %q is not terminal", id, phase)
	}
	return s.advance(ctx, id, "", phase, reason, at)
}

// AdvanceRelease implements store.Store.
func (s *Store) AdvanceRelease(ctx context.Context, id int64, from, to store.Phase, reason string, at time.Time) error {
	if !from.CanMove(to) {
		return fmt.Errorf("store: advance release %d: %s cannot move to %s", id, from, to)
	}
	return s.advance(ctx, id, from, to, reason, at)
}

// advance moves release id to phase to from phase from (any non-terminal
// phase when from is empty) and records the transition. A zero at is now.
func (s *Store) advance(ctx context.Context, id int64, from, to store.Phase, reason string, at time.Time) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("store: move release %d to %s: %w", id, to, err)
		}
	}()
	if at.IsZero() {
		at = time.Now()
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var current string
	err = tx.QueryRowContext(ctx, `SELECT phase FROM releases WHERE id = $1`, id).Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	cur := store.Phase(current)
	if (from != "" && cur != from) || !cur.CanMove(to) {
		return fmt.Errorf("it is %s: %w", cur, store.ErrConflict)
	}
	var finished any
	if to.IsTerminal() {
		finished = sqlstore.Millis(at)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE releases SET phase = $1, reason = $2, finished_ms = COALESCE($3, finished_ms) WHERE id = $4`,
		string(to), reason, finished, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO release_transitions (release_id, seq, from_phase, to_phase, reason, at_ms)
		VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM release_transitions WHERE release_id = $1), $2, $3, $4, $5)`,
		id, current, string(to), reason, sqlstore.Millis(at)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.markReleases()
	return nil
}

// ReleaseTransitions implements store.Store.
func (s *Store) ReleaseTransitions(ctx context.Context, id int64) ([]store.ReleaseTransition, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT release_id, seq, from_phase, to_phase, reason, at_ms
		FROM release_transitions WHERE release_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("store: release %d transitions: %w", id, err)
	}
	defer rows.Close()
	var out []store.ReleaseTransition
	for rows.Next() {
		var (
			t        store.ReleaseTransition
			from, to string
			ms       int64
		)
		if err := rows.Scan(&t.Release, &t.Seq, &from, &to, &t.Reason, &ms); err != nil {
			return nil, fmt.Errorf("store: release %d transitions: %w", id, err)
		}
		t.From, t.To, t.At = store.Phase(from), store.Phase(to), sqlstore.Time(ms)
		out = append(out, t)
	}
	return out, rows.Err()
}

// GetRelease implements store.Store.
func (s *Store) GetRelease(ctx context.Context, id int64) (store.Release, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+releaseCols+` FROM releases WHERE id = $1`, id)
	if err != nil {
		return store.Release{}, fmt.Errorf("store: get release %d: %w", id, err)
	}
	rels, err := scanReleases(rows)
	if err != nil {
		return store.Release{}, fmt.Errorf("store: get release %d: %w", id, err)
	}
	if len(rels) == 0 {
		return store.Release{}, fmt.Errorf("store: get release %d: %w", id, store.ErrNotFound)
	}
	return rels[0], nil
}

// ListReleases implements store.Store. Newest means most recently created,
// which the ID records exactly (Started is whatever the caller said).
func (s *Store) ListReleases(ctx context.Context, f store.ReleaseFilter) ([]store.Release, error) {
	var q query
	q.eq("env", f.Env)
	q.eq("site", f.Site)
	q.eq("snapshot", f.Snapshot)
	q.eq("phase", string(f.Phase))
	if f.BeforeID > 0 {
		q.where("id <", f.BeforeID)
	}
	if f.KnownGood {
		// Spelled exactly as the partial index releases_known_good's
		// condition, so SQLite can use it.
		q.conds = append(q.conds, "known_good")
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+releaseCols+` FROM releases`+
		q.whereSQL()+` ORDER BY id DESC`+q.limitSQL(f.Limit), q.args...)
	if err != nil {
		return nil, fmt.Errorf("store: list releases: %w", err)
	}
	rels, err := scanReleases(rows)
	if err != nil {
		return nil, fmt.Errorf("store: list releases: %w", err)
	}
	return rels, nil
}

// SiteHeads implements store.Store: two queries whatever the number of
// sites, each a walk of the index on (env, site, id).
func (s *Store) SiteHeads(ctx context.Context, env string) ([]store.SiteHead, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+releaseCols+` FROM releases WHERE id IN
		(SELECT MAX(id) FROM releases WHERE env = ? GROUP BY site) ORDER BY site`, env)
	if err != nil {
		return nil, fmt.Errorf("store: site heads: %w", err)
	}
	latest, err := scanReleases(rows)
	if err != nil {
		return nil, fmt.Errorf("store: site heads: %w", err)
	}
	rows, err = s.r.QueryContext(ctx, `SELECT site, snapshot FROM releases WHERE id IN
		(SELECT MAX(id) FROM releases WHERE env = ? AND phase = ? GROUP BY site)`, env, string(store.PhaseSucceeded))
	if err != nil {
		return nil, fmt.Errorf("store: site heads: %w", err)
	}
	defer rows.Close()
	current := map[string]string{}
	for rows.Next() {
		var site, snap string
		if err := rows.Scan(&site, &snap); err != nil {
			return nil, fmt.Errorf("store: site heads: %w", err)
		}
		current[site] = snap
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: site heads: %w", err)
	}
	heads := make([]store.SiteHead, len(latest))
	for i, r := range latest {
		heads[i] = store.SiteHead{Site: r.Site, Latest: r, Current: current[r.Site]}
	}
	return heads, nil
}

// Running implements store.Store: one query, whatever the number of
// releases each site has had.
func (s *Store) Running(ctx context.Context) ([]store.SiteSnapshot, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT env, site, snapshot, target FROM releases WHERE id IN
		(SELECT MAX(id) FROM releases WHERE phase = ? GROUP BY env, site) ORDER BY env, site`, string(store.PhaseSucceeded))
	if err != nil {
		return nil, fmt.Errorf("store: running: %w", err)
	}
	defer rows.Close()
	var out []store.SiteSnapshot
	for rows.Next() {
		var r store.SiteSnapshot
		if err := rows.Scan(&r.Env, &r.Site, &r.Snapshot, &r.Target); err != nil {
			return nil, fmt.Errorf("store: running: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: running: %w", err)
	}
	return out, nil
}

func scanReleases(rows *sql.Rows) ([]store.Release, error) {
	defer rows.Close()
	var out []store.Release
	for rows.Next() {
		var (
			r        store.Release
			phase    string
			started  int64
			finished sql.NullInt64
			fps      sql.NullString
		)
		if err := rows.Scan(&r.ID, &r.Number, &r.Env, &r.Site, &r.Snapshot, &phase, &r.Reason, &r.Owner, &started, &finished,
			&r.KnownGood, &r.By, &r.Target, &fps, &r.Engine, &r.Verdict); err != nil {
			return nil, err
		}
		if fps.Valid {
			if err := json.Unmarshal([]byte(fps.String), &r.SecretFingerprints); err != nil {
				return nil, fmt.Errorf("release %d: decode secret fingerprints: %w", r.ID, err)
			}
		}
		r.Phase = store.Phase(phase)
		r.Started = sqlstore.Time(started)
		r.Finished = fromNullMS(finished)
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkKnownGood implements store.Store. Marking a release that is already
// known-good succeeds and keeps the first marking's time.
//
// The check and the write are one transaction on the writer (BEGIN
// IMMEDIATE holds SQLite's write lock throughout), so the phase that decides
// the outcome is the one the release has when it is marked.
func (s *Store) MarkKnownGood(ctx context.Context, id int64, at time.Time) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("store: mark release %d known-good: %w", id, err)
		}
	}()
	if at.IsZero() {
		at = time.Now()
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var phase string
	err = tx.QueryRowContext(ctx, `SELECT phase FROM releases WHERE id = $1`, id).Scan(&phase)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	if store.Phase(phase) != store.PhaseSucceeded {
		return fmt.Errorf("it is %s, not %s: %w", phase, store.PhaseSucceeded, store.ErrConflict)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE releases
		SET known_good = TRUE, known_good_ms = COALESCE(known_good_ms, $1)
		WHERE id = $2`, sqlstore.Millis(at), id); err != nil {
		return err
	}
	return tx.Commit()
}

// RecordVerdict implements store.Store.
func (s *Store) RecordVerdict(ctx context.Context, id int64, verdict string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE releases SET verdict = CASE WHEN verdict = '' THEN $1 ELSE verdict END WHERE id = $2`, verdict, id)
	if err != nil {
		return fmt.Errorf("store: record the verdict of release %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("store: record the verdict of release %d: %w", id, store.ErrNotFound)
	}
	return nil
}
