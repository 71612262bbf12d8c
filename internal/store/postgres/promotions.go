package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

const promotionCols = `id, snapshot, from_env, to_env, phase, reason, by_actor, why, created_ms, updated_ms`

// CreatePromotion implements store.Store, with the SQLite store's defaults:
// zero Created is now, zero Updated is Created, empty Phase is pending.
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
	err := s.pool.QueryRow(ctx, `INSERT INTO promotions
		(snapshot, from_env, to_env, phase, reason, by_actor, why, created_ms, updated_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		p.Snapshot, p.From, p.To, string(p.Phase), p.Reason, p.By, p.Why, sqlstore.Millis(p.Created), sqlstore.Millis(p.Updated),
	).Scan(&p.ID)
	if err != nil {
		return store.Promotion{}, s.wrap(err, "create promotion of %s to %s", p.Snapshot, p.To)
	}
	return p, nil
}

// UpdatePromotion implements store.Store. A zero at is taken as now.
func (s *Store) UpdatePromotion(ctx context.Context, id int64, phase store.PromotionPhase, reason string, at time.Time) error {
	if !phase.Known() {
		return fmt.Errorf("store: update promotion %d: unknown phase %q", id, phase)
	}
	if at.IsZero() {
		at = time.Now()
	}
	// One atomic check-and-set on the locked row, as in FinishRelease.
	tag, err := s.pool.Exec(ctx, `UPDATE promotions SET phase = $1, reason = $2, updated_ms = $3
		WHERE id = $4 AND phase NOT IN ($5, $6, $7)`,
		string(phase), reason, sqlstore.Millis(at), id,
		string(store.PromotionSucceeded), string(store.PromotionFailed), string(store.PromotionBlocked))
	if err != nil {
		return s.wrap(err, "update promotion %d", id)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var current string
	err = s.pool.QueryRow(ctx, `SELECT phase FROM promotions WHERE id = $1`, id).Scan(&current)
	if noRows(err) {
		return fmt.Errorf("store: update promotion %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return s.wrap(err, "update promotion %d", id)
	}
	return fmt.Errorf("store: update promotion %d: already %s: %w", id, current, store.ErrConflict)
}

// GetPromotion implements store.Store.
func (s *Store) GetPromotion(ctx context.Context, id int64) (store.Promotion, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+promotionCols+` FROM promotions WHERE id = $1`, id)
	if err != nil {
		return store.Promotion{}, s.wrap(err, "get promotion %d", id)
	}
	ps, err := scanPromotions(rows)
	if err != nil {
		return store.Promotion{}, s.wrap(err, "get promotion %d", id)
	}
	if len(ps) == 0 {
		return store.Promotion{}, fmt.Errorf("store: get promotion %d: %w", id, store.ErrNotFound)
	}
	return ps[0], nil
}

// ListPromotions implements store.Store: newest (highest ID) first.
func (s *Store) ListPromotions(ctx context.Context, f store.PromotionFilter) ([]store.Promotion, error) {
	var q query
	q.eq("snapshot", f.Snapshot)
	q.eq("to_env", f.To)
	q.eq("phase", string(f.Phase))
	rows, err := s.pool.Query(ctx, `SELECT `+promotionCols+` FROM promotions`+
		q.whereSQL()+` ORDER BY id DESC`+q.limitSQL(f.Limit), q.args...)
	if err != nil {
		return nil, s.wrap(err, "list promotions")
	}
	ps, err := scanPromotions(rows)
	if err != nil {
		return nil, s.wrap(err, "list promotions")
	}
	return ps, nil
}

func scanPromotions(rows pgx.Rows) ([]store.Promotion, error) {
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

// foreignKeyViolation is PostgreSQL's SQLSTATE for a REFERENCES failure.
const foreignKeyViolation = "23503"

// AddGateResult implements store.Store. A zero At is set to now. A result
// for a promotion that does not exist is ErrNotFound: the foreign key
// refuses the row.
func (s *Store) AddGateResult(ctx context.Context, g store.GateResult) error {
	if g.At.IsZero() {
		g.At = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO gate_results (promotion, gate, passed, reason, at_ms)
		VALUES ($1, $2, $3, $4, $5)`, g.Promotion, g.Gate, g.Passed, g.Reason, sqlstore.Millis(g.At))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == foreignKeyViolation {
		return fmt.Errorf("store: add gate result %s of promotion %d: %w", g.Gate, g.Promotion, store.ErrNotFound)
	}
	return s.wrap(err, "add gate result %s of promotion %d", g.Gate, g.Promotion)
}

// GateResults implements store.Store. An unknown promotion has none.
func (s *Store) GateResults(ctx context.Context, promotion int64) ([]store.GateResult, error) {
	rows, err := s.pool.Query(ctx, `SELECT gate, passed, reason, at_ms FROM gate_results
		WHERE promotion = $1 ORDER BY id`, promotion)
	if err != nil {
		return nil, s.wrap(err, "gate results of promotion %d", promotion)
	}
	defer rows.Close()
	var out []store.GateResult
	for rows.Next() {
		g := store.GateResult{Promotion: promotion}
		var ms int64
		if err := rows.Scan(&g.Gate, &g.Passed, &g.Reason, &ms); err != nil {
			return nil, s.wrap(err, "gate results of promotion %d", promotion)
		}
		g.At = sqlstore.Time(ms)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "gate results of promotion %d", promotion)
	}
	return out, nil
}
