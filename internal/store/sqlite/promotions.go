package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

const promotionCols = `id, snapshot, from_env, to_env, phase, reason, by_actor, why, created_ms, updated_ms`

// CreatePromotion implements store.Store. A zero Created is set to now, a
// zero Updated to Created and an empty Phase to PromotionPending; a phase
// ladder does not define is refused.
func (s *Store) CreatePromotion(ctx context.Context, p store.Promotion) (store.Promotion, error) {
	if p.Phase == "" {
		p.Phase = store.PromotionPending
	}
	if !p.Phase.Known() {
		return store.Promotion{}, fmt.Errorf("store: create promotion of %s to %s: unknown phase %q", p.Snapshot, p.To, p.Phase)
	}
	if p.Created.IsZero() {
		p.Created = time.Now()
	}
	p.Created = sqlstore.Norm(p.Created)
	if p.Updated.IsZero() {
		p.Updated = p.Created
	}
	p.Updated = sqlstore.Norm(p.Updated)
	err := s.w.QueryRowContext(ctx, `INSERT INTO promotions
		(snapshot, from_env, to_env, phase, reason, by_actor, why, created_ms, updated_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		p.Snapshot, p.From, p.To, string(p.Phase), p.Reason, p.By, p.Why, sqlstore.Millis(p.Created), sqlstore.Millis(p.Updated),
	).Scan(&p.ID)
	if err != nil {
		return store.Promotion{}, fmt.Errorf("store: create promotion of %s to %s: %w", p.Snapshot, p.To, err)
	}
	return p, nil
}

// UpdatePromotion implements store.Store. A zero at is taken as now; a
// phase ladder does not define is refused. Moving a promotion to the phase
// it is already in (with a new reason) is allowed until it is terminal.
func (s *Store) UpdatePromotion(ctx context.Context, id int64, phase store.PromotionPhase, reason string, at time.Time) error {
	if !phase.Known() {
		return fmt.Errorf("store: update promotion %d: unknown phase %q", id, phase)
	}
	if at.IsZero() {
		at = time.Now()
	}
	// One atomic check-and-set, as in FinishRelease: of two processes
	// finishing the same promotion, one wins and the other sees zero rows.
	res, err := s.w.ExecContext(ctx, `UPDATE promotions SET phase = $1, reason = $2, updated_ms = $3
		WHERE id = $4 AND phase NOT IN ($5, $6, $7)`,
		string(phase), reason, sqlstore.Millis(at), id,
		string(store.PromotionSucceeded), string(store.PromotionFailed), string(store.PromotionBlocked))
	if err != nil {
		return fmt.Errorf("store: update promotion %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: update promotion %d: %w", id, err)
	}
	if n == 1 {
		return nil
	}
	// Promotions are never deleted and a terminal one never changes, so
	// what is read now explains why the update matched nothing.
	var current string
	err = s.r.QueryRowContext(ctx, `SELECT phase FROM promotions WHERE id = $1`, id).Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: update promotion %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: update promotion %d: %w", id, err)
	}
	return fmt.Errorf("store: update promotion %d: already %s: %w", id, current, store.ErrConflict)
}

// GetPromotion implements store.Store.
func (s *Store) GetPromotion(ctx context.Context, id int64) (store.Promotion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+promotionCols+` FROM promotions WHERE id = $1`, id)
	if err != nil {
		return store.Promotion{}, fmt.Errorf("store: get promotion %d: %w", id, err)
	}
	ps, err := scanPromotions(rows)
	if err != nil {
		return store.Promotion{}, fmt.Errorf("store: get promotion %d: %w", id, err)
	}
	if len(ps) == 0 {
		return store.Promotion{}, fmt.Errorf("store: get promotion %d: %w", id, store.ErrNotFound)
	}
	return ps[0], nil
}

// ListPromotions implements store.Store. Newest means most recently
// created (highest ID), as for releases.
func (s *Store) ListPromotions(ctx context.Context, f store.PromotionFilter) ([]store.Promotion, error) {
	var q query
	q.eq("snapshot", f.Snapshot)
	q.eq("to_env", f.To)
	q.eq("phase", string(f.Phase))
	rows, err := s.r.QueryContext(ctx, `SELECT `+promotionCols+` FROM promotions`+
		q.whereSQL()+` ORDER BY id DESC`+q.limitSQL(f.Limit), q.args...)
	if err != nil {
		return nil, fmt.Errorf("store: list promotions: %w", err)
	}
	ps, err := scanPromotions(rows)
	if err != nil {
		return nil, fmt.Errorf("store: list promotions: %w", err)
	}
	return ps, nil
}

func scanPromotions(rows *sql.Rows) ([]store.Promotion, error) {
	defer rows.Close()
	var out []store.Promotion
	for rows.Next() {
		var (
			p                store.Promotion
			phase            string
			created, updated int64
		)
		if err := rows.Scan(&p.ID, &p.Snapshot, &p.From, &p.To, &phase, &p.Reason, &p.By, &p.Why,
			&created, &updated); err != nil {
			return nil, err
		}
		p.Phase = store.PromotionPhase(phase)
		p.Created, p.Updated = sqlstore.Time(created), sqlstore.Time(updated)
		out = append(out, p)
	}
	return out, rows.Err()
}

// AddGateResult implements store.Store. A zero At is set to now. A result
// for a promotion that does not exist is ErrNotFound (the foreign key
// refuses the row; promotions are never deleted, so the check afterwards
// is race-free).
func (s *Store) AddGateResult(ctx context.Context, g store.GateResult) error {
	if g.At.IsZero() {
		g.At = time.Now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO gate_results (promotion, gate, passed, reason, at_ms)
		VALUES ($1, $2, $3, $4, $5)`, g.Promotion, g.Gate, g.Passed, g.Reason, sqlstore.Millis(g.At))
	if err == nil {
		return nil
	}
	if _, gerr := s.GetPromotion(ctx, g.Promotion); errors.Is(gerr, store.ErrNotFound) {
		return fmt.Errorf("store: add gate result %s of promotion %d: %w", g.Gate, g.Promotion, store.ErrNotFound)
	}
	return fmt.Errorf("store: add gate result %s of promotion %d: %w", g.Gate, g.Promotion, err)
}

// GateResults implements store.Store. An unknown promotion has none.
func (s *Store) GateResults(ctx context.Context, promotion int64) ([]store.GateResult, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT gate, passed, reason, at_ms FROM gate_results
		WHERE promotion = $1 ORDER BY id`, promotion)
	if err != nil {
		return nil, fmt.Errorf("store: gate results of promotion %d: %w", promotion, err)
	}
	defer rows.Close()
	var out []store.GateResult
	for rows.Next() {
		g := store.GateResult{Promotion: promotion}
		var ms int64
		if err := rows.Scan(&g.Gate, &g.Passed, &g.Reason, &ms); err != nil {
			return nil, fmt.Errorf("store: gate results of promotion %d: %w", promotion, err)
		}
		g.At = sqlstore.Time(ms)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: gate results of promotion %d: %w", promotion, err)
	}
	return out, nil
}
