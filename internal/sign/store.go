package sign

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/ladderhq/ladder/internal/atomicfile"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// sigSuffix ends the name of every signature file.
const sigSuffix = ".sig.json"

// SignaturePath returns where the signature of snapshotID lives in dir.
func SignaturePath(dir, snapshotID string) string {
	return filepath.Join(dir, snapshotID+sigSuffix)
}

// SaveSignature writes sig to <dir>/<id>.sig.json atomically: readers see
// the old file or the new one, never a partial write.
func SaveSignature(dir string, sig *Signature) error {
	if sig == nil {
		return errors.New("saving signature: no signature")
	}
	if !snapshot.ValidID(sig.Snapshot) {
		return fmt.Errorf("saving signature: %q is not a snapshot ID", sig.Snapshot)
	}
	b, err := json.MarshalIndent(sig, "", "  ")
	if err != nil {
		return fmt.Errorf("saving signature of snapshot %s: %w", snapshot.Short(sig.Snapshot), err)
	}
	path := SignaturePath(dir, sig.Snapshot)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("saving signature of snapshot %s: %w", snapshot.Short(sig.Snapshot), err)
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("saving signature of snapshot %s: %w", snapshot.Short(sig.Snapshot), err)
	}
	return nil
}

// LoadSignature reads the signature of snapshotID from dir. A snapshot
// with no signature file gives an error wrapping ErrUnsigned.
func LoadSignature(dir, snapshotID string) (*Signature, error) {
	if !snapshot.ValidID(snapshotID) {
		return nil, fmt.Errorf("loading signature: %q is not a full snapshot ID", snapshotID)
	}
	short := snapshot.Short(snapshotID)
	path := SignaturePath(dir, snapshotID)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("snapshot %s: %w (no signature at %s)", short, ErrUnsigned, path)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: reading signature: %w", short, err)
	}
	var sig Signature
	if err := json.Unmarshal(b, &sig); err != nil {
		return nil, fmt.Errorf("snapshot %s: signature file is not valid: %w", short, err)
	}
	if sig.Snapshot != snapshotID {
		return nil, fmt.Errorf("snapshot %s: signature file names snapshot %s: %w", short, snapshot.Short(sig.Snapshot), ErrMismatch)
	}
	return &sig, nil
}

// VerifyStored loads the signature of s from dir and verifies it (see
// Verify): the one call a protected environment needs before deploying s.
// An unsigned snapshot fails with an error wrapping ErrUnsigned.
func VerifyStored(dir string, s *snapshot.Snapshot, verifier signature.Verifier) (*Signature, error) {
	if s == nil {
		return nil, errors.New("verify: no snapshot")
	}
	sig, err := LoadSignature(dir, s.ID)
	if err != nil {
		return nil, err
	}
	if err := Verify(s, sig, verifier); err != nil {
		return nil, err
	}
	return sig, nil
}
