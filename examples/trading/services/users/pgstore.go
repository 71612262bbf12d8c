package main

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ladderhq/ladder/examples/trading/internal/db"
	"github.com/ladderhq/ladder/examples/trading/internal/model"
)

// pgStore keeps users in the users table (see internal/db/migrations).
// It reads and writes only the columns of v1, so it runs on any later
// (expanded) schema.
type pgStore struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

const userColumns = "id, name, email, created_at"

func scanUser(row pgx.CollectableRow) (model.User, error) {
	var u model.User
	err := row.Scan(&u.ID, &u.Name, &u.Email, &u.CreatedAt)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, err
}

func (s *pgStore) list(ctx context.Context) ([]model.User, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+userColumns+" FROM users ORDER BY id")
	if err != nil {
		return nil, err
	}
	users, err := pgx.CollectRows(rows, scanUser)
	if users == nil {
		users = []model.User{}
	}
	return users, err
}

func (s *pgStore) get(ctx context.Context, id int) (model.User, bool, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1", id)
	if err != nil {
		return model.User{}, false, err
	}
	u, err := pgx.CollectExactlyOneRow(rows, scanUser)
	if errors.Is(err, pgx.ErrNoRows) {
		return model.User{}, false, nil
	}
	return u, err == nil, err
}

func (s *pgStore) create(ctx context.Context, nu model.NewUser) (model.User, error) {
	u := model.User{Name: nu.Name, Email: nu.Email, CreatedAt: s.now().UTC().Truncate(time.Second)}
	err := s.pool.QueryRow(ctx, "INSERT INTO users (name, email, created_at) VALUES ($1, $2, $3) RETURNING id",
		u.Name, u.Email, u.CreatedAt).Scan(&u.ID)
	if db.IsUniqueViolation(err) {
		return model.User{}, errDuplicateEmail
	}
	return u, err
}
