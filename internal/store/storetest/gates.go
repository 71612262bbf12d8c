package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/ladderhq/ladder/internal/store"
)

var grantTests = []test{
	{"SingleUse", testGrantSingleUse},
	{"BoundToEnvAndSnapshot", testGrantBinding},
	{"Expires", testGrantExpiry},
	{"ConcurrentUse", testGrantConcurrent},
	{"HashIsUnique", testGrantUnique},
}

var trustTests = []test{
	{"TrustListRevoke", testTrustKeys},
}

var policyTests = []test{
	{"PinAndReplace", testPinPolicy},
}

func deployGrant(seed, env, snap string) store.Grant {
	return store.Grant{Hash: hexOf("grant " + seed), Env: env, Snapshot: snap, Purpose: "promotion 1", Issued: at(0), Expires: at(60)}
}

// testGrantSingleUse: a grant is used once; the second use is ErrConflict
// and returns the grant with the time of the first.
func testGrantSingleUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := deployGrant("a", "prod", hexOf("s1"))
	must(t, "PutGrant", s.PutGrant(ctx, g))
	got, err := s.UseGrant(ctx, g.Hash, "prod", g.Snapshot, at(10))
	must(t, "first UseGrant", err)
	want := g
	want.Used = at(10)
	equal(t, "used grant", got, want)
	got, err = s.UseGrant(ctx, g.Hash, "prod", g.Snapshot, at(11))
	isErr(t, "second UseGrant", err, store.ErrConflict)
	equal(t, "grant after a second use", got.Used, at(10))
}

// testGrantBinding: a grant for one env and snapshot is not found for
// another, and stays usable for its own.
func testGrantBinding(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := deployGrant("b", "prod", hexOf("s1"))
	must(t, "PutGrant", s.PutGrant(ctx, g))
	_, err := s.UseGrant(ctx, g.Hash, "staging", g.Snapshot, at(1))
	isErr(t, "UseGrant on another env", err, store.ErrNotFound)
	_, err = s.UseGrant(ctx, g.Hash, "prod", hexOf("s2"), at(1))
	isErr(t, "UseGrant for another snapshot", err, store.ErrNotFound)
	_, err = s.UseGrant(ctx, hexOf("nothing"), "prod", g.Snapshot, at(1))
	isErr(t, "UseGrant of an unknown hash", err, store.ErrNotFound)
	_, err = s.UseGrant(ctx, g.Hash, "prod", g.Snapshot, at(2))
	must(t, "UseGrant for its own env and snapshot", err)
}

// testGrantExpiry: at or after Expires a grant is ErrConflict, unused.
func testGrantExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := deployGrant("c", "prod", hexOf("s1"))
	must(t, "PutGrant", s.PutGrant(ctx, g))
	got, err := s.UseGrant(ctx, g.Hash, "prod", g.Snapshot, at(60))
	isErr(t, "UseGrant at expiry", err, store.ErrConflict)
	if !got.Used.IsZero() || !got.Expires.Equal(at(60)) {
		t.Errorf("expired grant = %+v, want unused, expiring at %v", got, at(60))
	}
}

// testGrantConcurrent: of many simultaneous uses of one grant, one wins.
func testGrantConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := deployGrant("d", "prod", hexOf("s1"))
	must(t, "PutGrant", s.PutGrant(ctx, g))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for i := range 8 {
		wg.Go(func() {
			_, err := s.UseGrant(ctx, g.Hash, "prod", g.Snapshot, at(1+i))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Errorf("UseGrant: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != 7 {
		t.Errorf("%d uses won and %d conflicted, want 1 and 7", wins, conflicts)
	}
}

func testGrantUnique(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := deployGrant("e", "prod", hexOf("s1"))
	must(t, "PutGrant", s.PutGrant(ctx, g))
	isErr(t, "PutGrant again", s.PutGrant(ctx, deployGrant("e", "dev", hexOf("s2"))), store.ErrConflict)
}

// testTrustKeys: keys are listed oldest first with their revocation;
// trusting again is a no-op; a revoked key cannot be trusted again.
func testTrustKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys, err := s.TrustedKeys(ctx)
	must(t, "TrustedKeys of a new store", err)
	if len(keys) != 0 {
		t.Fatalf("a new store trusts %v", keys)
	}
	k1 := store.TrustedKey{Fingerprint: hexOf("k1"), PEM: "-----BEGIN PUBLIC KEY-----\nk1\n", Added: at(1), AddedBy: "first use"}
	k2 := store.TrustedKey{Fingerprint: hexOf("k2"), PEM: "-----BEGIN PUBLIC KEY-----\nk2\n", Added: at(2), AddedBy: "ana"}
	for _, k := range []store.TrustedKey{k1, k2} {
		created, err := s.TrustKey(ctx, k)
		must(t, "TrustKey", err)
		if !created {
			t.Errorf("TrustKey %s: created false", k.Fingerprint)
		}
	}
	again := k1
	again.AddedBy, again.Added = "someone else", at(9)
	created, err := s.TrustKey(ctx, again)
	must(t, "TrustKey again", err)
	if created {
		t.Error("TrustKey of a trusted key: created true")
	}
	must(t, "RevokeKey", s.RevokeKey(ctx, k1.Fingerprint, "bob", at(3)))
	isErr(t, "RevokeKey again", s.RevokeKey(ctx, k1.Fingerprint, "bob", at(4)), store.ErrConflict)
	isErr(t, "RevokeKey of an unknown key", s.RevokeKey(ctx, hexOf("k3"), "bob", at(4)), store.ErrNotFound)
	_, err = s.TrustKey(ctx, k1)
	isErr(t, "TrustKey of a revoked key", err, store.ErrConflict)
	keys, err = s.TrustedKeys(ctx)
	must(t, "TrustedKeys", err)
	w1 := k1
	w1.Revoked, w1.RevokedBy = at(3), "bob"
	equal(t, "trusted keys", keys, []store.TrustedKey{w1, k2})
}

// testPinPolicy: a pinned policy reads back; pinning again replaces it;
// an env with none is ErrNotFound.
func testPinPolicy(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.PinnedPolicy(ctx, "prod")
	isErr(t, "PinnedPolicy before any", err, store.ErrNotFound)
	p := store.PinnedPolicy{Env: "prod", Policy: `{"protected":true}`, Pinned: at(1), By: "ladder"}
	must(t, "PinPolicy", s.PinPolicy(ctx, p))
	got, err := s.PinnedPolicy(ctx, "prod")
	must(t, "PinnedPolicy", err)
	equal(t, "pinned policy", got, p)
	p2 := store.PinnedPolicy{Env: "prod", Policy: `{"protected":false}`, Pinned: at(2), By: "ana"}
	must(t, "PinPolicy again", s.PinPolicy(ctx, p2))
	got, err = s.PinnedPolicy(ctx, "prod")
	must(t, "PinnedPolicy after replacing", err)
	equal(t, "replaced policy", got, p2)
	_, err = s.PinnedPolicy(ctx, "staging")
	isErr(t, "PinnedPolicy of another env", err, store.ErrNotFound)
}
