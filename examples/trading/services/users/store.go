package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
)

var errDuplicateEmail = errors.New("a user with this email already exists")

// userStore is where users live: PostgreSQL when DATABASE_URL is set
// (pgStore), else process memory (memStore).
type userStore interface {
	list(ctx context.Context) ([]model.User, error)
	// get reports a user that does not exist as ok false, not an error.
	get(ctx context.Context, id int) (u model.User, ok bool, err error)
	create(ctx context.Context, nu model.NewUser) (model.User, error)
}

var (
	_ userStore = (*memStore)(nil)
	_ userStore = (*pgStore)(nil)
)

// memStore is the in-memory user table. Data lives as long as the process:
// a redeploy starts again from the seed.
type memStore struct {
	mu    sync.RWMutex
	users []model.User // ordered by ID
	now   func() time.Time
}

func newMemStore(seeded []model.User) *memStore {
	return &memStore{users: append([]model.User(nil), seeded...), now: time.Now}
}

func (s *memStore) list(context.Context) ([]model.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]model.User{}, s.users...), nil
}

func (s *memStore) get(_ context.Context, id int) (model.User, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, u := range s.users {
		if u.ID == id {
			return u, true, nil
		}
	}
	return model.User{}, false, nil
}

func (s *memStore) create(_ context.Context, nu model.NewUser) (model.User, error) {
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
