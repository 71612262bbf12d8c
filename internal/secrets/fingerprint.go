package secrets

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ladderhq/ladder/internal/atomicfile"
)

// FingerprintKeyFile is the name, in the state directory, of the key
// that secret fingerprints are made with.
const FingerprintKeyFile = "fingerprint.key"

// fingerprintPrefix starts every fingerprint; the key's ID follows, so a
// fingerprint made under another key is recognised as not comparable
// rather than as a different value.
const fingerprintPrefix = "hmac-sha256:"

// Fingerprinter makes keyed fingerprints of secret values, so that what a
// release injected can be compared with what runs (drift) without loading
// or keeping the values. A fingerprint is HMAC-SHA256 under a random key of
// the state directory, kept in a file of its own (mode 0600), never in the
// store: whoever holds a copy of the store alone cannot test guesses of a
// weak secret against its fingerprints.
type Fingerprinter struct {
	key []byte
	id  string
}

// OpenFingerprinter reads the state directory's fingerprint key, making
// one when there is none and create is set. Without a key and without
// create it returns an error wrapping fs.ErrNotExist.
func OpenFingerprinter(stateDir string, create bool) (*Fingerprinter, error) {
	path := filepath.Join(stateDir, FingerprintKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		// Exclusive: of two processes making the key at once, one wins
		// and both then use its key.
		if err := atomicfile.Create(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("fingerprint key: %w", err)
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("fingerprint key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("fingerprint key %s is damaged", path)
	}
	id := sha256.Sum256(append([]byte("ladder fingerprint key id\x00"), key...))
	return &Fingerprinter{key: key, id: hex.EncodeToString(id[:4])}, nil
}

// Fingerprint returns the keyed fingerprint of value.
func (f *Fingerprinter) Fingerprint(value string) string {
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte(value))
	return fingerprintPrefix + f.id + ":" + hex.EncodeToString(m.Sum(nil))
}

// Match reports whether value has the fingerprint fp. known is false when
// fp was not made with this key (or is no fingerprint at all): then
// nothing can be said about value.
func (f *Fingerprinter) Match(fp, value string) (match, known bool) {
	if !strings.HasPrefix(fp, fingerprintPrefix+f.id+":") {
		return false, false
	}
	return hmac.Equal([]byte(fp), []byte(f.Fingerprint(value))), true
}
