package postgres

import (
	"errors"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// A first token created while another transaction is adding a token
// waits for it and then sees it: the table lock is what keeps two first
// admins from both finding the table empty (a row lock could not: there
// is no row yet).
func TestCreateFirstTokenWaitsForATokenBeingAdded(t *testing.T) {
	s, _ := openTemp(t)
	ctx := t.Context()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO tokens (name, hash, grants, created_ms, expires_ms) VALUES ('ana', 'hash-ana', 'admin:*', 1, 0)`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- s.CreateFirstToken(ctx, store.Token{Name: "bob", Hash: "hash-bob", Grants: []string{"admin:*"}})
	}()
	select {
	case err := <-done:
		t.Fatalf("CreateFirstToken did not wait for the transaction adding a token: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateFirstToken after another token was added: %v, want ErrConflict", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("CreateFirstToken still waits after the other transaction ended")
	}
	toks, err := s.ListTokens(ctx)
	if err != nil || len(toks) != 1 || toks[0].Name != "ana" {
		t.Errorf("tokens %+v, %v: want ana alone", toks, err)
	}
}
