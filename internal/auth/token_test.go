package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestTokenAuthenticator(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := &TokenAuthenticator{Store: st, Now: func() time.Time { return clock }}

	secret, tok, err := NewToken(ctx, st, "Ana@Example.com", []Grant{{Role: Approver, Env: "prod"}}, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) < len(TokenPrefix)+50 {
		t.Errorf("secret %q is not a prefixed 256-bit token", secret)
	}
	if tok.Hash == secret || strings.Contains(tok.Hash, secret[len(TokenPrefix):]) {
		t.Error("the store got the secret")
	}
	list, _ := st.ListTokens(ctx)
	for _, l := range list {
		if strings.Contains(strings.Join(append(l.Grants, l.Name, l.Hash), " "), secret) {
			t.Error("the secret is stored")
		}
	}

	p, err := a.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "ana@example.com" || !Allowed(p, "prod", ActionApprove) || Allowed(p, "staging", ActionApprove) {
		t.Errorf("principal = %+v", p)
	}

	other, _ := NewSecret()
	for name, cred := range map[string]string{
		"empty":      "",
		"not ladder": "Bearer xyz",
		"unknown":    other,
		"altered":    secret[:len(secret)-1] + "x",
	} {
		if _, err := a.Authenticate(ctx, cred); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: err = %v, want ErrUnauthenticated", name, err)
		} else if cred != "" && strings.Contains(err.Error(), cred) {
			t.Errorf("%s: the error repeats the credential", name)
		}
	}

	clock = clock.Add(time.Hour)
	if _, err := a.Authenticate(ctx, secret); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired: err = %v", err)
	}
	clock = clock.Add(-time.Minute)
	if _, err := a.Authenticate(ctx, secret); err != nil {
		t.Errorf("before expiry: %v", err)
	}
	if err := st.RevokeToken(ctx, "ana@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, secret); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("revoked: err = %v", err)
	}

	if _, _, err := NewToken(ctx, st, "unknown", []Grant{{Role: Admin, Env: AnyEnv}}, 0, clock); err == nil {
		t.Error("a token named unknown was created")
	}
	if _, _, err := NewToken(ctx, st, "bob", nil, 0, clock); err == nil {
		t.Error("a token without roles was created")
	}
}

func TestEnsureLocalToken(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	dir := t.TempDir()
	t.Setenv(EnvToken, "")
	if err := EnsureLocalToken(ctx, st, dir); err != nil {
		t.Fatal(err)
	}
	path := LocalTokenPath(dir)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	secret := Credential(dir)
	p, err := (&TokenAuthenticator{Store: st}).Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != LocalName() || !Allowed(p, "prod", ActionAdmin) {
		t.Errorf("local principal = %+v", p)
	}

	// Again: the same token.
	if err := EnsureLocalToken(ctx, st, dir); err != nil {
		t.Fatal(err)
	}
	if Credential(dir) != secret {
		t.Error("a second call replaced a working token")
	}

	// LADDER_TOKEN overrides the file.
	t.Setenv(EnvToken, "ldr_other")
	if Credential(dir) != "ldr_other" {
		t.Error("LADDER_TOKEN does not override the file")
	}
	t.Setenv(EnvToken, "")

	// A file others can read is refused.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := EnsureLocalToken(ctx, st, dir); err == nil {
		t.Error("a world-readable token file was accepted")
	}
	os.Chmod(path, 0o600)

	// A new store does not know the old file's token: it is replaced.
	st2 := openStore(t)
	if err := EnsureLocalToken(ctx, st2, dir); err != nil {
		t.Fatal(err)
	}
	if Credential(dir) == secret {
		t.Error("the file still holds a token the store does not know")
	}
	if _, err := (&TokenAuthenticator{Store: st2}).Authenticate(ctx, Credential(dir)); err != nil {
		t.Error(err)
	}
}

type brokenAuth struct{ err error }

func (b brokenAuth) Authenticate(context.Context, string) (Principal, error) {
	return Principal{}, b.err
}

// TestLocalFallback: the local admin token works while the store cannot
// answer, and nothing else does; a refusal by the store stands.
func TestLocalFallback(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	dir := t.TempDir()
	t.Setenv(EnvToken, "")
	if err := EnsureLocalToken(ctx, st, dir); err != nil {
		t.Fatal(err)
	}
	local := Credential(dir)
	down := WithLocalFallback(brokenAuth{errors.New("store lost")}, dir)
	if p, err := down.Authenticate(ctx, local); err != nil || !Allowed(p, "prod", ActionDown) {
		t.Errorf("local token while the store is down: %+v, %v", p, err)
	}
	other, _ := NewSecret()
	if _, err := down.Authenticate(ctx, other); err == nil {
		t.Error("another token was accepted while the store is down")
	}
	refused := WithLocalFallback(brokenAuth{ErrUnauthenticated}, dir)
	if _, err := refused.Authenticate(ctx, local); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a refusal by the store was overridden: %v", err)
	}
}
