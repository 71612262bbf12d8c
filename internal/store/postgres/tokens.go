package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

var _ store.Tokens = (*Store)(nil)

// CreateToken implements store.Tokens. ON CONFLICT DO NOTHING decides in
// one statement which of two tokens of one name is recorded.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO tokens (`+tokenCols+`)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, sqlstore.TokenArgs(t)...)
	if err != nil {
		return s.wrap(err, "create token %s", t.Name)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: create token %s: a token of that name exists: %w", t.Name, store.ErrConflict)
	}
	return nil
}

// CreateFirstToken implements store.Store. The table lock makes first
// tokens created at once wait for each other, so only one sees an empty
// table (a row lock cannot: there is no row yet).
func (s *Store) CreateFirstToken(ctx context.Context, t store.Token) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.wrap(err, "create first token %s", t.Name)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `LOCK TABLE tokens IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return s.wrap(err, "create first token %s", t.Name)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO tokens (`+tokenCols+`)
		SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM tokens)`, sqlstore.TokenArgs(t)...)
	if err != nil {
		return s.wrap(err, "create first token %s", t.Name)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: create first token %s: the store has a token already: %w", t.Name, store.ErrConflict)
	}
	return s.wrap(tx.Commit(ctx), "create first token %s", t.Name)
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
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Token{}, fmt.Errorf("store: no such token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, s.wrap(err, "look up token")
	}
	return t, nil
}

// ListTokens implements store.Tokens.
func (s *Store) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY name`)
	if err != nil {
		return nil, s.wrap(err, "list tokens")
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, s.wrap(err, "list tokens")
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "list tokens")
	}
	return out, nil
}

// RevokeToken implements store.Tokens.
func (s *Store) RevokeToken(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE name = $1`, name)
	if err != nil {
		return s.wrap(err, "revoke token %s", name)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: revoke token %s: %w", name, store.ErrNotFound)
	}
	return nil
}
