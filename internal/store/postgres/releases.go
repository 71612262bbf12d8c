package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

const releaseCols = `id, number, env, site, snapshot, phase, reason, owner, started_ms, finished_ms, known_good, by_actor, target, secret_fingerprints, engine, verdict`

// CreateRelease implements store.Store, with the SQLite store's defaults: a
// zero Started is now, an empty Phase is progressing, and KnownGood is only
// allowed on a release created succeeded.
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
	var knownGoodAt *int64
	if r.KnownGood {
		if r.Phase != store.PhaseSucceeded {
			return store.Release{}, fmt.Errorf("store: create release of %s to %s/%s: known-good release must be %s, not %s",
				r.Snapshot, r.Env, r.Site, store.PhaseSucceeded, r.Phase)
		}
		ms := sqlstore.Millis(r.Started)
		if !r.Finished.IsZero() {
			ms = sqlstore.Millis(r.Finished)
		}
		knownGoodAt = &ms
	}
	// Fingerprints are a JSON object, NULL when there are none (read back
	// as nil).
	var fingerprints *string
	if len(r.SecretFingerprints) > 0 {
		b, err := json.Marshal(r.SecretFingerprints)
		if err != nil {
			return store.Release{}, s.wrap(err, "create release of %s to %s/%s", r.Snapshot, r.Env, r.Site)
		}
		f := string(b)
		fingerprints = &f
	} else {
		r.SecretFingerprints = nil
	}
	// The number is the environment's next. Two concurrent inserts may
	// compute the same one; the unique index (env, number) refuses the
	// second, which then tries again with the next number.
	var err error
	for range maxLeaseRounds {
		err = s.pool.QueryRow(ctx, `INSERT INTO releases
			(number, env, site, snapshot, phase, reason, owner, started_ms, finished_ms, known_good, known_good_ms, by_actor,
			 target, secret_fingerprints, engine)
			VALUES ((SELECT COALESCE(MAX(number), 0) + 1 FROM releases WHERE env = $1),
				$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id, number`,
			r.Env, r.Site, r.Snapshot, string(r.Phase), r.Reason, r.Owner, sqlstore.Millis(r.Started), nullMS(r.Finished),
			r.KnownGood, knownGoodAt, r.By, r.Target, fingerprints, r.Engine,
		).Scan(&r.ID, &r.Number)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
			break
		}
	}
	if err != nil {
		return store.Release{}, s.wrap(err, "create release of %s to %s/%s", r.Snapshot, r.Env, r.Site)
	}
	return r, nil
}

// FinishRelease implements store.Store: see advance.
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
// phase when from is empty) and records the transition, in one
// transaction: SELECT ... FOR UPDATE locks the row, so of two processes
// moving the same release one decides on the phase the other left.
func (s *Store) advance(ctx context.Context, id int64, from, to store.Phase, reason string, at time.Time) (err error) {
	defer func() {
		if err != nil {
			err = s.wrap(err, "move release %d to %s", id, to)
		}
	}()
	if at.IsZero() {
		at = time.Now()
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var current string
	err = tx.QueryRow(ctx, `SELECT phase FROM releases WHERE id = $1 FOR UPDATE`, id).Scan(&current)
	if noRows(err) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	cur := store.Phase(current)
	if (from != "" && cur != from) || !cur.CanMove(to) {
		return fmt.Errorf("it is %s: %w", cur, store.ErrConflict)
	}
	var finished *int64
	if to.IsTerminal() {
		ms := sqlstore.Millis(at)
		finished = &ms
	}
	if _, err := tx.Exec(ctx, `UPDATE releases SET phase = $1, reason = $2, finished_ms = COALESCE($3, finished_ms) WHERE id = $4`,
		string(to), reason, finished, id); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO release_transitions (release_id, seq, from_phase, to_phase, reason, at_ms)
		VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM release_transitions WHERE release_id = $1), $2, $3, $4, $5)`,
		id, current, string(to), reason, sqlstore.Millis(at)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// ReleaseTransitions implements store.Store.
func (s *Store) ReleaseTransitions(ctx context.Context, id int64) ([]store.ReleaseTransition, error) {
	rows, err := s.pool.Query(ctx, `SELECT release_id, seq, from_phase, to_phase, reason, at_ms
		FROM release_transitions WHERE release_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, s.wrap(err, "release %d transitions", id)
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
			return nil, s.wrap(err, "release %d transitions", id)
		}
		t.From, t.To, t.At = store.Phase(from), store.Phase(to), sqlstore.Time(ms)
		out = append(out, t)
	}
	return out, s.wrap(rows.Err(), "release %d transitions", id)
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
	if f.BeforeID > 0 {
		q.where("id <", f.BeforeID)
	}
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

// SiteHeads implements store.Store: two queries whatever the number of
// sites, each a walk of the index on (env, site, id).
func (s *Store) SiteHeads(ctx context.Context, env string) ([]store.SiteHead, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+releaseCols+` FROM releases WHERE id IN
		(SELECT MAX(id) FROM releases WHERE env = $1 GROUP BY site) ORDER BY site`, env)
	if err != nil {
		return nil, s.wrap(err, "site heads")
	}
	latest, err := scanReleases(rows)
	if err != nil {
		return nil, s.wrap(err, "site heads")
	}
	rows, err = s.pool.Query(ctx, `SELECT site, snapshot FROM releases WHERE id IN
		(SELECT MAX(id) FROM releases WHERE env = $1 AND phase = $2 GROUP BY site)`, env, string(store.PhaseSucceeded))
	if err != nil {
		return nil, s.wrap(err, "site heads")
	}
	defer rows.Close()
	current := map[string]string{}
	for rows.Next() {
		var site, snap string
		if err := rows.Scan(&site, &snap); err != nil {
			return nil, s.wrap(err, "site heads")
		}
		current[site] = snap
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "site heads")
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
	rows, err := s.pool.Query(ctx, `SELECT env, site, snapshot, target FROM releases WHERE id IN
		(SELECT MAX(id) FROM releases WHERE phase = $1 GROUP BY env, site) ORDER BY env, site`, string(store.PhaseSucceeded))
	if err != nil {
		return nil, s.wrap(err, "running")
	}
	defer rows.Close()
	var out []store.SiteSnapshot
	for rows.Next() {
		var r store.SiteSnapshot
		if err := rows.Scan(&r.Env, &r.Site, &r.Snapshot, &r.Target); err != nil {
			return nil, s.wrap(err, "running")
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "running")
	}
	return out, nil
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
			fps      *string
		)
		if err := rows.Scan(&r.ID, &r.Number, &r.Env, &r.Site, &r.Snapshot, &phase, &r.Reason, &r.Owner, &started, &finished,
			&r.KnownGood, &r.By, &r.Target, &fps, &r.Engine, &r.Verdict); err != nil {
			return nil, err
		}
		if fps != nil {
			if err := json.Unmarshal([]byte(*fps), &r.SecretFingerprints); err != nil {
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
		WHERE id = $2 AND phase = $3`, sqlstore.Millis(at), id, string(store.PhaseSucceeded))
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

// RecordVerdict implements store.Store.
func (s *Store) RecordVerdict(ctx context.Context, id int64, verdict string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE releases SET verdict = CASE WHEN verdict = '' THEN $1 ELSE verdict END WHERE id = $2`, verdict, id)
	if err != nil {
		return s.wrap(err, "record the verdict of release %d", id)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: record the verdict of release %d: %w", id, store.ErrNotFound)
	}
	return nil
}
