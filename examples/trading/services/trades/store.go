package main

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
)

// quoteBook holds the quotes, fixed for the life of the process so that
// every replica of a snapshot quotes the same prices.
type quoteBook struct {
	quotes []model.Quote
	prices map[string]model.Money
}

func newQuoteBook(quotes []model.Quote) *quoteBook {
	b := &quoteBook{quotes: slices.Clone(quotes), prices: make(map[string]model.Money, len(quotes))}
	for _, q := range quotes {
		b.prices[q.Symbol] = q.Price
	}
	return b
}

func (b *quoteBook) price(symbol string) (model.Money, bool) {
	p, ok := b.prices[symbol]
	return p, ok
}

// tradeLog is where trades are recorded: PostgreSQL when DATABASE_URL is
// set (pgLog), else process memory (memLog).
type tradeLog interface {
	// list returns user's trades (everyone's for user 0), newest first.
	list(ctx context.Context, user int) ([]model.Trade, error)
	add(ctx context.Context, req model.TradeRequest, price model.Money) (model.Trade, error)
}

var (
	_ tradeLog = (*memLog)(nil)
	_ tradeLog = (*pgLog)(nil)
)

// memLog is the in-memory trade log: a redeploy starts again from the seed.
type memLog struct {
	snapshot string
	mu       sync.RWMutex
	trades   []model.Trade // oldest first
	now      func() time.Time
}

func newMemLog(snapshot string, trades []model.Trade) *memLog {
	return &memLog{snapshot: snapshot, trades: slices.Clone(trades), now: time.Now}
}

func (s *memLog) list(_ context.Context, user int) ([]model.Trade, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []model.Trade{} // "[]", not "null", when empty
	for i := len(s.trades) - 1; i >= 0; i-- {
		if t := s.trades[i]; user == 0 || t.User == user {
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *memLog) add(_ context.Context, req model.TradeRequest, price model.Money) (model.Trade, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := model.Trade{
		ID:       len(s.trades) + 1,
		User:     req.User,
		Symbol:   req.Symbol,
		Side:     req.Side,
		Qty:      req.Qty,
		Price:    price,
		Time:     s.now().UTC(),
		Snapshot: s.snapshot,
	}
	s.trades = append(s.trades, t)
	return t, nil
}
