package main

import (
	"slices"
	"sync"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
)

// store keeps notifications in memory, in the order they were created.
type store struct {
	mu    sync.RWMutex
	items []model.Notification
	now   func() time.Time
}

func newStore(seeded []model.Notification) *store {
	return &store{items: slices.Clone(seeded), now: time.Now}
}

// list returns user's notifications (everyone's for user 0), newest first.
func (s *store) list(user int) []model.Notification {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []model.Notification{} // "[]", not "null", when empty
	for i := len(s.items) - 1; i >= 0; i-- {
		if n := s.items[i]; user == 0 || n.User == user {
			out = append(out, n)
		}
	}
	return out
}

func (s *store) add(nn model.NewNotification) model.Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := model.Notification{
		ID:        len(s.items) + 1,
		User:      nn.User,
		TradeID:   nn.TradeID,
		Message:   nn.Message,
		CreatedAt: s.now().UTC(),
	}
	s.items = append(s.items, n)
	return n
}
