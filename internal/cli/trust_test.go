package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/sign"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// A signature verifies only with a trusted, unrevoked key, whatever key ID
// it records.
func TestVerifyTrusted(t *testing.T) {
	snap := snapshot.New("shop", strings.Repeat("1", 64), map[string]snapshot.Artifact{
		"api": {Service: "api", Digest: "sha256:" + strings.Repeat("a", 64)},
	}, "", time.Now())
	key := func() (store.TrustedKey, *sign.Signature) {
		priv, pub, err := sign.GenerateKeyPair([]byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		signer, err := sign.LoadPrivateKey(priv, []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		sig, err := sign.Sign(snap, signer)
		if err != nil {
			t.Fatal(err)
		}
		id, err := sign.KeyIDOfPEM(pub)
		if err != nil {
			t.Fatal(err)
		}
		return store.TrustedKey{Fingerprint: id, PEM: string(pub)}, sig
	}
	trusted, good := key()
	stranger, evil := key()
	if err := verifyTrusted(snap, good, []store.TrustedKey{trusted}); err != nil {
		t.Errorf("signed with the trusted key: %v", err)
	}
	if err := verifyTrusted(snap, evil, []store.TrustedKey{trusted}); err == nil || !strings.Contains(err.Error(), "does not trust") {
		t.Errorf("signed with an untrusted key: %v", err)
	}
	forged := *evil
	forged.KeyID = trusted.Fingerprint
	if err := verifyTrusted(snap, &forged, []store.TrustedKey{trusted}); err == nil {
		t.Error("an untrusted signature naming the trusted key's ID verified")
	}
	anon := *good
	anon.KeyID = ""
	if err := verifyTrusted(snap, &anon, []store.TrustedKey{stranger, trusted}); err != nil {
		t.Errorf("a trusted signature recording no key ID: %v", err)
	}
	revoked := trusted
	revoked.Revoked, revoked.RevokedBy = time.Now(), "ana"
	if err := verifyTrusted(snap, good, []store.TrustedKey{revoked}); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("signed with a revoked key: %v", err)
	}
	if err := verifyTrusted(snap, &anon, []store.TrustedKey{revoked}); err == nil {
		t.Error("a signature with no key ID verified with a revoked key")
	}
}
