package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
)

// pgLog keeps trades in the trades table (see internal/db/migrations). It
// writes the snapshot column that migration 0002 added (expand): code
// from before it inserts without the column, and this code reads it as
// NULL-able, so either runs on the other's schema.
type pgLog struct {
	pool     *pgxpool.Pool
	snapshot string
	now      func() time.Time
}

func scanTrade(row pgx.CollectableRow) (model.Trade, error) {
	var t model.Trade
	var side string
	var price int64
	var snap *string
	err := row.Scan(&t.ID, &t.User, &t.Symbol, &side, &t.Qty, &price, &t.Time, &snap)
	t.Side, t.Price, t.Time = model.Side(side), model.Money(price), t.Time.UTC()
	if snap != nil {
		t.Snapshot = *snap
	}
	return t, err
}

func (s *pgLog) list(ctx context.Context, user int) ([]model.Trade, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, user_id, symbol, side, qty, price, placed_at, snapshot FROM trades
		WHERE $1 = 0 OR user_id = $1 ORDER BY id DESC`, user)
	if err != nil {
		return nil, err
	}
	trades, err := pgx.CollectRows(rows, scanTrade)
	if trades == nil {
		trades = []model.Trade{}
	}
	return trades, err
}

func (s *pgLog) add(ctx context.Context, req model.TradeRequest, price model.Money) (model.Trade, error) {
	t := model.Trade{User: req.User, Symbol: req.Symbol, Side: req.Side, Qty: req.Qty, Price: price, Time: s.now().UTC(), Snapshot: s.snapshot}
	var snap *string
	if t.Snapshot != "" {
		snap = &t.Snapshot
	}
	err := s.pool.QueryRow(ctx, `INSERT INTO trades (user_id, symbol, side, qty, price, placed_at, snapshot)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, placed_at`,
		t.User, t.Symbol, string(t.Side), t.Qty, int64(t.Price), t.Time, snap).Scan(&t.ID, &t.Time)
	t.Time = t.Time.UTC()
	return t, err
}
