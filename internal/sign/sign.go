package sign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// PayloadType names the kind and version of the signed document.
const PayloadType = "dev.ladder/snapshot/v1"

// Errors a failed verification wraps, so callers can tell the cases apart
// with errors.Is while users read the full message.
var (
	// ErrUnsigned means the snapshot has no signature.
	ErrUnsigned = errors.New("not signed")
	// ErrBadSignature means the signature does not verify with the key:
	// the payload or the signature was altered, or another key signed it.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrMismatch means the signature is valid but covers a different
	// snapshot than the one presented.
	ErrMismatch = errors.New("signature does not match the snapshot")
)

// Signature is a detached signature over one snapshot.
type Signature struct {
	// Snapshot is the full ID of the signed snapshot.
	Snapshot string `json:"snapshot"`
	// Payload is the exact signed document (see Payload).
	Payload []byte `json:"payload"`
	// Sig is the signature over Payload (ASN.1 DER for ECDSA keys).
	Sig []byte `json:"sig"`
	// KeyID is the hex SHA-256 of the signing public key's PKIX DER.
	KeyID string `json:"keyId"`
	// Signed is when the signature was made. It is not covered by the
	// signature and is for people only.
	Signed time.Time `json:"signed"`
}

// payload is the signed document. Its fields are declared in sorted key
// order and encoding/json sorts map keys, so its encoding is canonical.
type payload struct {
	Artifacts map[string]string `json:"artifacts"`
	Snapshot  string            `json:"snapshot"`
	Stack     string            `json:"stack"`
	StackHash string            `json:"stackHash"`
	Type      string            `json:"type"`
}

func payloadOf(s *snapshot.Snapshot) payload {
	p := payload{
		Artifacts: make(map[string]string, len(s.Artifacts)),
		Snapshot:  s.ID,
		Stack:     s.Stack,
		StackHash: s.StackHash,
		Type:      PayloadType,
	}
	for name, a := range s.Artifacts {
		p.Artifacts[name] = a.Digest
	}
	return p
}

// Payload returns the canonical JSON document a signature over s covers:
// {"artifacts":{svc:digest,...},"snapshot":id,"stack":...,"stackHash":...,"type":PayloadType}
// with keys sorted and no insignificant whitespace.
func Payload(s *snapshot.Snapshot) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(payloadOf(s)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Sign signs snapshot s with signer. It refuses a snapshot whose content
// does not match its ID: signing one would vouch for a record that is
// already inconsistent.
func Sign(s *snapshot.Snapshot, signer signature.Signer) (*Signature, error) {
	if s == nil {
		return nil, errors.New("sign: no snapshot")
	}
	if err := s.Verify(); err != nil {
		return nil, fmt.Errorf("refusing to sign: %w", err)
	}
	p, err := Payload(s)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: encoding payload: %w", snapshot.Short(s.ID), err)
	}
	keyID, err := keyIDOf(signer)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", snapshot.Short(s.ID), err)
	}
	sig, err := signer.SignMessage(bytes.NewReader(p))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: signing: %w", snapshot.Short(s.ID), err)
	}
	return &Signature{
		Snapshot: s.ID,
		Payload:  p,
		Sig:      sig,
		KeyID:    keyID,
		Signed:   time.Now().UTC().Truncate(time.Second),
	}, nil
}

// Verify checks that sig is a valid signature by verifier's key over
// exactly snapshot s, and that s itself is intact. It checks, in order:
// the signature over sig.Payload verifies; the payload names this
// snapshot's ID, stack, stack hash and every artifact digest, no more and
// no fewer; and s's content still hashes to its ID. A nil sig is
// ErrUnsigned.
func Verify(s *snapshot.Snapshot, sig *Signature, verifier signature.Verifier) error {
	if s == nil {
		return errors.New("verify: no snapshot")
	}
	short := snapshot.Short(s.ID)
	if sig == nil {
		return fmt.Errorf("snapshot %s: %w", short, ErrUnsigned)
	}
	keyID, err := keyIDOf(verifier)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", short, err)
	}
	if len(sig.Sig) == 0 || len(sig.Payload) == 0 {
		return fmt.Errorf("snapshot %s: the signature record is empty: %w", short, ErrBadSignature)
	}
	if err := verifier.VerifySignature(bytes.NewReader(sig.Sig), bytes.NewReader(sig.Payload)); err != nil {
		hint := "the snapshot or its signature was altered"
		if sig.KeyID != "" && sig.KeyID != keyID {
			hint = fmt.Sprintf("it records signing key %s, not this key", shortKey(sig.KeyID))
		}
		return fmt.Errorf("snapshot %s: %w with key %s: %s", short, ErrBadSignature, shortKey(keyID), hint)
	}

	// The payload is authentic; now it must describe this very snapshot.
	var p payload
	dec := json.NewDecoder(bytes.NewReader(sig.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("snapshot %s: signed payload is not a ladder snapshot document: %v: %w", short, err, ErrMismatch)
	}
	if p.Type != PayloadType {
		return fmt.Errorf("snapshot %s: signed payload has type %q, want %q: %w", short, p.Type, PayloadType, ErrMismatch)
	}
	if err := compare(s, p); err != nil {
		return fmt.Errorf("snapshot %s: %s: %w", short, err, ErrMismatch)
	}
	if sig.Snapshot != s.ID {
		return fmt.Errorf("snapshot %s: the signature file names snapshot %s: %w", short, snapshot.Short(sig.Snapshot), ErrMismatch)
	}
	if err := s.Verify(); err != nil {
		return err
	}
	return nil
}

// compare reports the first way payload p fails to describe s, in words.
func compare(s *snapshot.Snapshot, p payload) error {
	if p.Snapshot != s.ID {
		return fmt.Errorf("the signature is for snapshot %s, not this one", snapshot.Short(p.Snapshot))
	}
	if p.Stack != s.Stack {
		return fmt.Errorf("the signature is for stack %q, but the snapshot is of stack %q", p.Stack, s.Stack)
	}
	if p.StackHash != s.StackHash {
		return fmt.Errorf("the stack definition changed since signing (signed %s, now %s)",
			snapshot.Short(p.StackHash), snapshot.Short(s.StackHash))
	}
	var missing, extra []string
	for name, a := range s.Artifacts {
		want, ok := p.Artifacts[name]
		if !ok {
			extra = append(extra, name)
			continue
		}
		if a.Digest != want {
			return fmt.Errorf("service %q has image %s, but the signature covers image %s",
				name, snapshot.Short(a.Digest), snapshot.Short(want))
		}
	}
	for name := range p.Artifacts {
		if _, ok := s.Artifacts[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("service(s) %s are not covered by the signature", strings.Join(extra, ", "))
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("the signature covers service(s) %s, which the snapshot lacks", strings.Join(missing, ", "))
	}
	return nil
}
