package store

import (
	"context"
	"time"
)

// Tokens keeps API tokens: who they name, their grants, and the SHA-256
// of their secret. The secret itself is never stored.
type Tokens interface {
	// CreateToken records t; a token of the same name or hash is
	// ErrConflict. A zero Created is set to now.
	CreateToken(ctx context.Context, t Token) error
	// CreateFirstToken records t only if the store has no token at all,
	// as one atomic step: of first tokens created at once, one is
	// recorded and the others are ErrConflict.
	CreateFirstToken(ctx context.Context, t Token) error
	// TokenByHash returns the token whose secret hashes to hash, expired
	// or not (the caller judges), or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// ListTokens returns every token, by name.
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken deletes the token called name, or is ErrNotFound.
	RevokeToken(ctx context.Context, name string) error
}

// Token is one API token.
type Token struct {
	// Name is the identity the token authenticates as.
	Name string `json:"name"`
	// Hash is the hex SHA-256 of the secret; never shown.
	Hash string `json:"-"`
	// Grants are ROLE:ENV strings ("approver:prod", "admin:*").
	Grants  []string  `json:"grants"`
	Created time.Time `json:"created"`
	// Expires is zero for a token that does not expire.
	Expires time.Time `json:"expires,omitzero"`
}

// Expired reports whether t no longer authenticates at now.
func (t Token) Expired(now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}
