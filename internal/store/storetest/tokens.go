package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

var tokenTests = []test{
	{"CreateLookUpListRevoke", testTokenLifecycle},
	{"NameAndHashAreUnique", testTokenUnique},
	{"DefaultCreatedTime", testTokenDefaultTime},
	{"ConcurrentSameName", testTokenConcurrent},
	{"FirstTokenOnlyOnce", testFirstToken},
}

// testFirstToken: of first tokens created at once, under different names,
// exactly one is recorded; with a token in the store there is no first
// one any more.
func testFirstToken(t *testing.T, s store.Store) {
	oneOfMany(t, s, "CreateFirstToken", func(i int) error {
		return s.CreateFirstToken(t.Context(), store.Token{Name: fmt.Sprint("admin", i), Hash: hexOf(fmt.Sprint("first", i)), Grants: []string{"admin:*"}, Created: at(i)})
	})
	err := s.CreateFirstToken(t.Context(), store.Token{Name: "late", Hash: hexOf("late"), Grants: []string{"admin:*"}})
	isErr(t, "CreateFirstToken with a token in the store", err, store.ErrConflict)
}

// oneOfMany runs create for 8 tokens at once: exactly one must be
// recorded, the others refused as ErrConflict.
func oneOfMany(t *testing.T, s store.Store, what string, create func(i int) error) {
	t.Helper()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = create(i) })
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
			continue
		}
		isErr(t, fmt.Sprint(what, " ", i), err, store.ErrConflict)
	}
	if ok != 1 {
		t.Errorf("%s: %d of %d tokens were recorded, want 1", what, ok, n)
	}
	list, err := s.ListTokens(t.Context())
	must(t, "ListTokens", err)
	if len(list) != 1 {
		t.Errorf("ListTokens = %d tokens, want 1", len(list))
	}
}

// testTokenLifecycle: a token is found by its hash with everything it was
// created with; the list is by name; a revoked token is gone.
func testTokenLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	bob := store.Token{Name: "bob", Hash: hexOf("bob-secret"), Grants: []string{"approver:prod", "viewer:*"}, Created: at(1), Expires: at(3600)}
	ana := store.Token{Name: "ana", Hash: hexOf("ana-secret"), Grants: []string{"admin:*"}, Created: at(2)}
	must(t, "CreateToken bob", s.CreateToken(ctx, bob))
	must(t, "CreateToken ana", s.CreateToken(ctx, ana))

	got, err := s.TokenByHash(ctx, bob.Hash)
	must(t, "TokenByHash bob", err)
	equal(t, "TokenByHash bob", got, bob)
	got, err = s.TokenByHash(ctx, ana.Hash)
	must(t, "TokenByHash ana", err)
	equal(t, "TokenByHash ana (no expiry)", got, ana)
	if got.Expired(at(1 << 20)) {
		t.Errorf("a token without expiry expired")
	}
	if !bob.Expired(at(3600)) || bob.Expired(at(3599)) {
		t.Errorf("bob's token expires at %v exactly", bob.Expires)
	}

	_, err = s.TokenByHash(ctx, hexOf("nobody"))
	isErr(t, "TokenByHash unknown", err, store.ErrNotFound)

	list, err := s.ListTokens(ctx)
	must(t, "ListTokens", err)
	equal(t, "ListTokens", list, []store.Token{ana, bob})

	must(t, "RevokeToken bob", s.RevokeToken(ctx, "bob"))
	_, err = s.TokenByHash(ctx, bob.Hash)
	isErr(t, "TokenByHash revoked", err, store.ErrNotFound)
	isErr(t, "RevokeToken again", s.RevokeToken(ctx, "bob"), store.ErrNotFound)
	list, err = s.ListTokens(ctx)
	must(t, "ListTokens after revoke", err)
	equal(t, "ListTokens after revoke", list, []store.Token{ana})

	// A revoked name can be given out again, with a new secret.
	bob2 := store.Token{Name: "bob", Hash: hexOf("bob-secret-2"), Grants: []string{"viewer:*"}, Created: at(5)}
	must(t, "CreateToken bob again", s.CreateToken(ctx, bob2))
	got, err = s.TokenByHash(ctx, bob2.Hash)
	must(t, "TokenByHash bob again", err)
	equal(t, "TokenByHash bob again", got, bob2)
}

func testTokenUnique(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, "CreateToken", s.CreateToken(ctx, store.Token{Name: "ci", Hash: hexOf("1"), Grants: []string{"deployer:dev"}, Created: at(1)}))
	isErr(t, "same name", s.CreateToken(ctx, store.Token{Name: "ci", Hash: hexOf("2"), Grants: []string{"admin:*"}, Created: at(2)}), store.ErrConflict)
	isErr(t, "same hash", s.CreateToken(ctx, store.Token{Name: "other", Hash: hexOf("1"), Grants: []string{"admin:*"}, Created: at(2)}), store.ErrConflict)
	got, err := s.TokenByHash(ctx, hexOf("1"))
	must(t, "TokenByHash", err)
	equal(t, "the first token stays as it was", got.Grants, []string{"deployer:dev"})
	_, err = s.TokenByHash(ctx, hexOf("2"))
	isErr(t, "the refused token was not stored", err, store.ErrNotFound)
}

func testTokenDefaultTime(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now()
	must(t, "CreateToken", s.CreateToken(ctx, store.Token{Name: "x", Hash: hexOf("x"), Grants: []string{"viewer:*"}}))
	after := time.Now()
	got, err := s.TokenByHash(ctx, hexOf("x"))
	must(t, "TokenByHash", err)
	within(t, "Created", got.Created, before, after)
	if !got.Expires.IsZero() {
		t.Errorf("Expires = %v, want zero", got.Expires)
	}
}

// testTokenConcurrent: of many tokens of one name created at once,
// exactly one is recorded.
func testTokenConcurrent(t *testing.T, s store.Store) {
	oneOfMany(t, s, "CreateToken", func(i int) error {
		return s.CreateToken(t.Context(), store.Token{Name: "race", Hash: hexOf(fmt.Sprint("race", i)), Grants: []string{"viewer:*"}, Created: at(i)})
	})
}
