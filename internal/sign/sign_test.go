package sign

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
)

func digest(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

func testSnapshot() *snapshot.Snapshot {
	return snapshot.New("shop", strings.Repeat("5", 64), map[string]snapshot.Artifact{
		"api": {Service: "api", Digest: digest('a'), Builder: "go"},
		"web": {Service: "web", Digest: digest('b'), Builder: "dockerfile"},
	}, "abc123", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

// clone deep-copies a snapshot so a test can alter it.
func clone(s *snapshot.Snapshot) *snapshot.Snapshot {
	c := *s
	c.Artifacts = map[string]snapshot.Artifact{}
	for k, v := range s.Artifacts {
		c.Artifacts[k] = v
	}
	return &c
}

func TestPayloadIsCanonical(t *testing.T) {
	s := testSnapshot()
	p, err := Payload(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"artifacts":{"api":"` + digest('a') + `","web":"` + digest('b') + `"},"snapshot":"` + s.ID +
		`","stack":"shop","stackHash":"` + s.StackHash + `","type":"dev.ladder/snapshot/v1"}`
	if string(p) != want {
		t.Errorf("payload\n got %s\nwant %s", p, want)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	k, _ := testKeys(t)
	s := testSnapshot()
	sig, err := Sign(s, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Snapshot != s.ID || sig.Signed.IsZero() || len(sig.KeyID) != 64 {
		t.Errorf("signature = %+v", sig)
	}
	if err := Verify(s, sig, k.verifier); err != nil {
		t.Fatalf("Verify: %v", err)
	}

	// Through disk and JSON (base64 signature) and back.
	dir := t.TempDir()
	if err := SaveSignature(dir, sig); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, s.ID+".sig.json"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk map[string]any
	if err := json.Unmarshal(raw, &onDisk); err != nil {
		t.Fatal(err)
	}
	if _, ok := onDisk["sig"].(string); !ok {
		t.Errorf("sig is not a base64 string in %s", raw)
	}
	got, err := LoadSignature(dir, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(s, got, k.verifier); err != nil {
		t.Fatalf("Verify after load: %v", err)
	}
	if _, err := VerifyStored(dir, s, k.verifier); err != nil {
		t.Errorf("VerifyStored: %v", err)
	}
	changed := clone(s)
	changed.Artifacts["api"] = snapshot.Artifact{Service: "api", Digest: digest('c')}
	changed.ID = changed.ComputeID()
	if _, err := VerifyStored(dir, changed, k.verifier); !errors.Is(err, ErrUnsigned) {
		t.Errorf("VerifyStored of a changed (so unsigned) snapshot: got %v, want ErrUnsigned", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestSignRefusesInconsistentSnapshot(t *testing.T) {
	k, _ := testKeys(t)
	s := testSnapshot()
	s.StackHash = strings.Repeat("6", 64) // ID now stale
	if _, err := Sign(s, k.signer); err == nil {
		t.Fatal("signed a snapshot whose content does not match its ID")
	}
}

func TestVerifyRefuses(t *testing.T) {
	k, other := testKeys(t)
	orig := testSnapshot()
	sig, err := Sign(orig, k.signer)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		mutate  func(s *snapshot.Snapshot, sig *Signature)
		wrongKy bool
		wantErr error
		wantMsg string
	}{
		{
			name:    "wrong key",
			wrongKy: true,
			wantErr: ErrBadSignature,
			wantMsg: "signature does not verify with key " + shortKey(mustKeyID(t, other)),
		},
		{
			name: "tampered payload",
			mutate: func(_ *snapshot.Snapshot, sig *Signature) {
				sig.Payload = bytes.Replace(sig.Payload, []byte(digest('a')), []byte(digest('c')), 1)
			},
			wantErr: ErrBadSignature,
			wantMsg: "the snapshot or its signature was altered",
		},
		{
			name:    "tampered signature",
			mutate:  func(_ *snapshot.Snapshot, sig *Signature) { sig.Sig[len(sig.Sig)/2] ^= 0x01 },
			wantErr: ErrBadSignature,
		},
		{
			name:    "signature removed",
			mutate:  func(_ *snapshot.Snapshot, sig *Signature) { sig.Sig = nil },
			wantErr: ErrBadSignature,
		},
		{
			name: "digest swapped, ID recomputed",
			mutate: func(s *snapshot.Snapshot, _ *Signature) {
				s.Artifacts["api"] = snapshot.Artifact{Service: "api", Digest: digest('c')}
				s.ID = s.ComputeID()
			},
			wantErr: ErrMismatch,
			wantMsg: "is for snapshot " + snapshot.Short(orig.ID),
		},
		{
			name: "digest swapped, ID kept",
			mutate: func(s *snapshot.Snapshot, _ *Signature) {
				s.Artifacts["api"] = snapshot.Artifact{Service: "api", Digest: digest('c')}
			},
			wantErr: ErrMismatch,
			wantMsg: `service "api" has image ` + snapshot.Short(digest('c')),
		},
		{
			name:    "stack hash changed, ID kept",
			mutate:  func(s *snapshot.Snapshot, _ *Signature) { s.StackHash = strings.Repeat("7", 64) },
			wantErr: ErrMismatch,
			wantMsg: "stack definition changed",
		},
		{
			name: "service added, ID kept",
			mutate: func(s *snapshot.Snapshot, _ *Signature) {
				s.Artifacts["worker"] = snapshot.Artifact{Service: "worker", Digest: digest('d')}
			},
			wantErr: ErrMismatch,
			wantMsg: "worker are not covered",
		},
		{
			name:    "service removed, ID kept",
			mutate:  func(s *snapshot.Snapshot, _ *Signature) { delete(s.Artifacts, "web") },
			wantErr: ErrMismatch,
			wantMsg: "covers service(s) web",
		},
		{
			name: "signature file relabelled for another snapshot",
			mutate: func(_ *snapshot.Snapshot, sig *Signature) {
				sig.Snapshot = strings.Repeat("e", 64)
			},
			wantErr: ErrMismatch,
		},
		{
			name: "artifact record names another service",
			mutate: func(s *snapshot.Snapshot, _ *Signature) {
				s.Artifacts["api"] = snapshot.Artifact{Service: "web", Digest: digest('a')}
			},
			wantMsg: `names service "web"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := clone(orig)
			sg := *sig
			sg.Payload = bytes.Clone(sig.Payload)
			sg.Sig = bytes.Clone(sig.Sig)
			if tt.mutate != nil {
				tt.mutate(s, &sg)
			}
			v := k.verifier
			if tt.wrongKy {
				v = other.verifier
			}
			err := Verify(s, &sg, v)
			if err == nil {
				t.Fatal("Verify accepted it")
			}
			t.Logf("error: %v", err)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error does not wrap %q", tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error does not say %q", tt.wantMsg)
			}
			if !strings.HasPrefix(err.Error(), "snapshot ") {
				t.Errorf("error does not start by naming the snapshot")
			}
		})
	}
}

func TestVerifyForeignPayload(t *testing.T) {
	// A valid signature by the trusted key over something that is not a
	// ladder snapshot document must not be accepted.
	k, _ := testKeys(t)
	s := testSnapshot()
	for name, p := range map[string]string{
		"other type":    `{"artifacts":{},"snapshot":"` + s.ID + `","stack":"shop","stackHash":"` + s.StackHash + `","type":"x/v9"}`,
		"unknown field": `{"artifacts":{},"extra":1,"snapshot":"` + s.ID + `","stack":"shop","stackHash":"` + s.StackHash + `","type":"dev.ladder/snapshot/v1"}`,
		"not json":      `hello`,
	} {
		sig, err := k.signer.SignMessage(strings.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		err = Verify(s, &Signature{Snapshot: s.ID, Payload: []byte(p), Sig: sig}, k.verifier)
		if !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: got %v, want ErrMismatch", name, err)
		}
	}
}

func TestUnsigned(t *testing.T) {
	k, _ := testKeys(t)
	s := testSnapshot()
	if err := Verify(s, nil, k.verifier); !errors.Is(err, ErrUnsigned) {
		t.Errorf("Verify(nil sig) = %v, want ErrUnsigned", err)
	}
	_, err := LoadSignature(t.TempDir(), s.ID)
	if !errors.Is(err, ErrUnsigned) {
		t.Fatalf("LoadSignature of a missing file = %v, want ErrUnsigned", err)
	}
	if !strings.Contains(err.Error(), snapshot.Short(s.ID)) {
		t.Errorf("error %q does not name the snapshot", err)
	}
}

func TestStorageRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	if err := SaveSignature(dir, &Signature{Snapshot: "../../etc/passwd"}); err == nil {
		t.Error("saved a signature under a path-like snapshot ID")
	}
	if _, err := LoadSignature(dir, "abcd"); err == nil {
		t.Error("loaded a signature by a short prefix")
	}
	id := testSnapshot().ID
	if err := os.WriteFile(SignaturePath(dir, id), []byte("{nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSignature(dir, id); err == nil || errors.Is(err, ErrUnsigned) {
		t.Errorf("corrupt signature file: got %v, want a parse error", err)
	}
	other := strings.Repeat("e", 64)
	if err := SaveSignature(dir, &Signature{Snapshot: other}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(SignaturePath(dir, other), SignaturePath(dir, id)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSignature(dir, id); !errors.Is(err, ErrMismatch) {
		t.Errorf("signature file of another snapshot: got %v, want ErrMismatch", err)
	}
}

func mustKeyID(t *testing.T, k testKey) string {
	t.Helper()
	id, err := keyIDOf(k.verifier)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
