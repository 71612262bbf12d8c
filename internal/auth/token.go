package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// TokenPrefix starts every token's secret, so secret scanners and people
// can tell one when they see it.
const TokenPrefix = "ldr_"

// tokenBytes of randomness: 256 bits, beyond guessing.
const tokenBytes = 32

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a new random token secret.
func NewSecret() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return TokenPrefix + strings.ToLower(b32.EncodeToString(b)), nil
}

// HashSecret is what the store keeps of a secret: its hex SHA-256. Token
// secrets carry 256 random bits, so a fast hash is enough: there is
// nothing to brute-force from it.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Authenticator turns a credential (the secret of an Authorization:
// Bearer header) into a principal, or fails with an error that
// errors.Is ErrUnauthenticated. An OIDC verifier implements it as well as
// TokenAuthenticator does.
type Authenticator interface {
	Authenticate(ctx context.Context, credential string) (Principal, error)
}

// TokenAuthenticator authenticates the tokens kept in a store.
type TokenAuthenticator struct {
	Store store.Tokens
	// Now is the clock expiry is judged by; nil is time.Now.
	Now func() time.Time
}

var _ Authenticator = (*TokenAuthenticator)(nil)

// Authenticate implements Authenticator. Errors never repeat the
// credential.
func (a *TokenAuthenticator) Authenticate(ctx context.Context, credential string) (Principal, error) {
	if credential == "" {
		return Principal{}, fmt.Errorf("no credential: %w", ErrUnauthenticated)
	}
	if !strings.HasPrefix(credential, TokenPrefix) {
		return Principal{}, fmt.Errorf("not a ladder token (they start with %s): %w", TokenPrefix, ErrUnauthenticated)
	}
	t, err := a.Store.TokenByHash(ctx, HashSecret(credential))
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("unknown or revoked token: %w", ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, err
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	if t.Expired(now()) {
		return Principal{}, fmt.Errorf("the token of %s expired at %s: %w", t.Name, t.Expires.Format(time.RFC3339), ErrUnauthenticated)
	}
	grants, err := ParseGrants(t.Grants)
	if err != nil {
		return Principal{}, fmt.Errorf("the token of %s: %v: %w", t.Name, err, ErrUnauthenticated)
	}
	return Principal{Name: NormalizeName(t.Name), Grants: grants}, nil
}

// NewToken creates a token for name with grants, valid for ttl (0: no
// expiry), records it and returns its secret: the only time the secret
// is seen.
func NewToken(ctx context.Context, st store.Tokens, name string, grants []Grant, ttl time.Duration, now time.Time) (string, store.Token, error) {
	return newToken(ctx, st.CreateToken, name, grants, ttl, now)
}

// NewFirstToken is NewToken for a store's first token, which nobody
// authorised: it is recorded only while the store has none, so of two
// made at once one is store.ErrConflict.
func NewFirstToken(ctx context.Context, st store.Tokens, name string, grants []Grant, ttl time.Duration, now time.Time) (string, store.Token, error) {
	return newToken(ctx, st.CreateFirstToken, name, grants, ttl, now)
}

func newToken(ctx context.Context, create func(context.Context, store.Token) error, name string, grants []Grant, ttl time.Duration, now time.Time) (string, store.Token, error) {
	if err := CheckName(name); err != nil {
		return "", store.Token{}, err
	}
	if len(grants) == 0 {
		return "", store.Token{}, errors.New("a token needs at least one role")
	}
	if ttl < 0 {
		return "", store.Token{}, fmt.Errorf("expiry %s is in the past", ttl)
	}
	secret, err := NewSecret()
	if err != nil {
		return "", store.Token{}, err
	}
	t := store.Token{Name: NormalizeName(name), Hash: HashSecret(secret), Grants: GrantStrings(grants), Created: now.UTC()}
	if ttl > 0 {
		t.Expires = now.Add(ttl).UTC()
	}
	if err := create(ctx, t); err != nil {
		return "", store.Token{}, err
	}
	return secret, t, nil
}
