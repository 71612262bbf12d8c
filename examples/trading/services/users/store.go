package main

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
)

var errDuplicateEmail = errors.New("a user with this email already exists")

// store is the in-memory user table. Data lives as long as the process:
// a redeploy starts again from the seed, which is what a demo wants.
type store struct {
	mu    sync.RWMutex
	users []model.User // ordered by ID
	now   func() time.Time
}

func newStore(seeded []model.User) *store {
	return &store{users: append([]model.User(nil), seeded...), now: time.Now}
}

func (s *store) list() []model.User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]model.User(nil), s.users...)
}

func (s *store) get(id int) (model.User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, u := range s.users {
		if u.ID == id {
			return u, true
		}
	}
	return model.User{}, false
}

func (s *store) create(nu model.NewUser) (model.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if strings.EqualFold(u.Email, nu.Email) {
			return model.User{}, errDuplicateEmail
		}
	}
	id := 1
	if n := len(s.users); n > 0 {
		id = s.users[n-1].ID + 1
	}
	u := model.User{ID: id, Name: nu.Name, Email: nu.Email, CreatedAt: s.now().UTC().Truncate(time.Second)}
	s.users = append(s.users, u)
	return u, nil
}
