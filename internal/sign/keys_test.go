package sign

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Key generation runs scrypt; do it once per key for the whole package.
type testKey struct {
	priv, pub []byte
	signer    signature.SignerVerifier
	verifier  signature.Verifier
}

var (
	keysOnce sync.Once
	keys     [2]testKey
	keysErr  error
)

const testPassword = "correct horse battery staple"

func testKeys(t *testing.T) (a, b testKey) {
	t.Helper()
	keysOnce.Do(func() {
		for i := range keys {
			k := &keys[i]
			if k.priv, k.pub, keysErr = GenerateKeyPair([]byte(testPassword)); keysErr != nil {
				return
			}
			if k.signer, keysErr = LoadPrivateKey(k.priv, []byte(testPassword)); keysErr != nil {
				return
			}
			if k.verifier, keysErr = LoadPublicKey(k.pub); keysErr != nil {
				return
			}
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keys[0], keys[1]
}

func TestGeneratedKeysAreCosignFormat(t *testing.T) {
	k, _ := testKeys(t)

	block, rest := pem.Decode(k.priv)
	if block == nil || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("private key is not a single PEM block:\n%s", k.priv)
	}
	if block.Type != "ENCRYPTED SIGSTORE PRIVATE KEY" {
		t.Errorf("private PEM type = %q, want ENCRYPTED SIGSTORE PRIVATE KEY", block.Type)
	}
	// The body is go-securesystemslib's JSON envelope: scrypt + secretbox.
	var env struct {
		KDF struct {
			Name   string
			Params struct{ N, R, P int }
		}
		Cipher struct{ Name string }
	}
	if err := json.Unmarshal(block.Bytes, &env); err != nil {
		t.Fatalf("encrypted key body is not JSON: %v", err)
	}
	if env.KDF.Name != "scrypt" || env.Cipher.Name != "nacl/secretbox" || env.KDF.Params.N < 1<<15 {
		t.Errorf("envelope = %+v, want scrypt (N >= 2^15) + nacl/secretbox", env)
	}

	pb, _ := pem.Decode(k.pub)
	if pb == nil || pb.Type != "PUBLIC KEY" {
		t.Fatalf("public key PEM = %q, want a PUBLIC KEY block", k.pub)
	}

	// sigstore's own loader (the one cosign's key handling is built on)
	// must read the key we wrote, and find the same P-256 key.
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(k.priv, cryptoutils.StaticPasswordFunc([]byte(testPassword)))
	if err != nil {
		t.Fatalf("sigstore cannot load the generated key: %v", err)
	}
	ec, ok := priv.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", priv)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(k.pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := cryptoutils.EqualKeys(ec.Public(), pub); err != nil {
		t.Errorf("public key does not belong to the private key: %v", err)
	}
}

func TestLoadPrivateKey(t *testing.T) {
	k, _ := testKeys(t)
	block, _ := pem.Decode(k.priv)
	relabel := func(typ string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: block.Bytes})
	}
	plain, err := cryptoutils.MarshalPrivateKeyToPEM(mustECDSA(t))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		pem      []byte
		password string
		wantErr  error  // checked with errors.Is when set
		wantMsg  string // substring of the error when set
	}{
		{name: "sigstore block", pem: k.priv, password: testPassword},
		{name: "older cosign block", pem: relabel("ENCRYPTED COSIGN PRIVATE KEY"), password: testPassword},
		{name: "wrong password", pem: k.priv, password: "hunter2", wantErr: ErrWrongPassword, wantMsg: "wrong password"},
		{name: "empty password", pem: k.priv, password: "", wantErr: ErrWrongPassword},
		{name: "unencrypted key refused", pem: plain, password: testPassword, wantMsg: `"PRIVATE KEY"`},
		{name: "unknown block", pem: relabel("EC PRIVATE KEY"), password: testPassword, wantMsg: "encrypted cosign key"},
		{name: "not PEM", pem: []byte("hello"), password: testPassword, wantMsg: "no PEM block"},
		{name: "garbled body", pem: pem.EncodeToMemory(&pem.Block{Type: PrivateKeyPEMType, Bytes: []byte("{{")}), password: testPassword, wantMsg: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sv, err := LoadPrivateKey(tt.pem, []byte(tt.password))
			if tt.wantErr == nil && tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("LoadPrivateKey: %v", err)
				}
				id, err := keyIDOf(sv)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := keyIDOf(k.verifier)
				if id != want {
					t.Errorf("loaded key id %s, want %s", id, want)
				}
				return
			}
			if err == nil {
				t.Fatal("LoadPrivateKey succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q does not wrap %q", err, tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestEmptyPasswordStillEncrypts(t *testing.T) {
	priv, _, err := GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(priv); b == nil || b.Type != PrivateKeyPEMType {
		t.Fatalf("key with empty password was not written encrypted:\n%s", priv)
	}
	if _, err := LoadPrivateKey(priv, nil); err != nil {
		t.Errorf("loading with the empty password: %v", err)
	}
	if _, err := LoadPrivateKey(priv, []byte("x")); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("loading with a password: got %v, want ErrWrongPassword", err)
	}
}

func TestLoadPublicKeyRejectsGarbage(t *testing.T) {
	k, _ := testKeys(t)
	for name, in := range map[string][]byte{
		"empty":       nil,
		"private key": k.priv,
		"junk":        []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
	} {
		if _, err := LoadPublicKey(in); err == nil {
			t.Errorf("%s: LoadPublicKey succeeded", name)
		}
	}
}

func mustECDSA(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	_, priv, err := signature.NewDefaultECDSASignerVerifier()
	if err != nil {
		t.Fatal(err)
	}
	return priv
}
