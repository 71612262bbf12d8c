package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

var _ store.Tokens = (*Store)(nil)

// CreateToken implements store.Tokens. ON CONFLICT DO NOTHING decides in
// one statement which of two tokens of one name is recorded.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	return s.insertToken(ctx, t, "create token", "a token of that name exists",
		`INSERT INTO tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`)
}

// CreateFirstToken implements store.Store: SQLite runs the statement,
// its check included, under the database's one write lock.
func (s *Store) CreateFirstToken(ctx context.Context, t store.Token) error {
	return s.insertToken(ctx, t, "create first token", "the store has a token already",
		`INSERT INTO tokens (`+tokenCols+`) SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM tokens)`)
}

// insertToken runs an INSERT of t that records nothing when its condition
// fails, which is ErrConflict (taken says why).
func (s *Store) insertToken(ctx context.Context, t store.Token, what, taken, query string) error {
	res, err := s.w.ExecContext(ctx, query, sqlstore.TokenArgs(t)...)
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", what, t.Name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", what, t.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s %s: %s: %w", what, t.Name, taken, store.ErrConflict)
	}
	return nil
}

const tokenCols = `name, hash, grants, created_ms, expires_ms`

func scanToken(sc interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var grants string
	var created, exp int64
	if err := sc.Scan(&t.Name, &t.Hash, &grants, &created, &exp); err != nil {
		return t, err
	}
	if grants != "" {
		t.Grants = strings.Split(grants, ",")
	}
	t.Created = sqlstore.Time(created)
	if exp != 0 {
		t.Expires = sqlstore.Time(exp)
	}
	return t, nil
}

// TokenByHash implements store.Tokens.
func (s *Store) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Token{}, fmt.Errorf("store: no such token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("store: look up token: %w", err)
	}
	return t, nil
}

// ListTokens implements store.Tokens.
func (s *Store) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken implements store.Tokens.
func (s *Store) RevokeToken(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM tokens WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("store: revoke token %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: revoke token %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("store: revoke token %s: %w", name, store.ErrNotFound)
	}
	return nil
}
