package main

import (
	"slices"
	"sync"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
)

// store holds the quotes (fixed for the life of the process, so that every
// replica of a snapshot quotes the same prices) and the trade log.
type store struct {
	quotes []model.Quote
	prices map[string]model.Money

	mu     sync.RWMutex
	trades []model.Trade // oldest first
	now    func() time.Time
}

func newStore(quotes []model.Quote, trades []model.Trade) *store {
	s := &store{
		quotes: slices.Clone(quotes),
		prices: make(map[string]model.Money, len(quotes)),
		trades: slices.Clone(trades),
		now:    time.Now,
	}
	for _, q := range quotes {
		s.prices[q.Symbol] = q.Price
	}
	return s
}

func (s *store) price(symbol string) (model.Money, bool) {
	p, ok := s.prices[symbol]
	return p, ok
}

// list returns user's trades (everyone's for user 0), newest first.
func (s *store) list(user int) []model.Trade {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []model.Trade{} // "[]", not "null", when empty
	for i := len(s.trades) - 1; i >= 0; i-- {
		if t := s.trades[i]; user == 0 || t.User == user {
			out = append(out, t)
		}
	}
	return out
}

func (s *store) add(req model.TradeRequest, price model.Money) model.Trade {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := model.Trade{
		ID:     len(s.trades) + 1,
		User:   req.User,
		Symbol: req.Symbol,
		Side:   req.Side,
		Qty:    req.Qty,
		Price:  price,
		Time:   s.now().UTC(),
	}
	s.trades = append(s.trades, t)
	return t
}
