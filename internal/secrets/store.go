package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"filippo.io/age"

	"github.com/ladderhq/ladder/internal/atomicfile"
)

// SecretsDir is the directory, relative to the project, that holds the
// encrypted values, names and public keys.
const SecretsDir = "secrets"

// nameRe is what a secret name must look like: an environment variable name.
var nameRe = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// envRe is the spec package's rule for environment names; it also keeps them
// safe as file names.
var envRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// Store reads and writes the secrets of one project's environments. Its
// methods are safe for concurrent use within a process.
type Store struct {
	projectDir string
	keysDir    string
	mu         sync.Mutex // serializes read-modify-write of .age files
}

// Open returns the Store of the project in projectDir. keysDir is where the
// environments' private keys live; empty means $LADDER_KEYS_DIR, else
// <projectDir>/.ladder/keys (see KeysDir). Open touches no files.
func Open(projectDir, keysDir string) *Store {
	if keysDir == "" {
		keysDir = KeysDir(filepath.Join(projectDir, ".ladder"))
	}
	return &Store{projectDir: projectDir, keysDir: keysDir}
}

// KeysDir is the default keys directory for a project whose state directory
// is stateDir: $LADDER_KEYS_DIR when set, else stateDir/keys.
func KeysDir(stateDir string) string {
	if d := os.Getenv("LADDER_KEYS_DIR"); d != "" {
		return d
	}
	return filepath.Join(stateDir, "keys")
}

func (s *Store) path(env, ext string) string {
	return filepath.Join(s.projectDir, SecretsDir, env+ext)
}

// InitEnv makes sure env has a key pair and returns its recipient (public
// key). It generates one only when env has neither a private key (file or
// variable) nor a public key; an existing key is never overwritten. If the
// public key exists but the private key is not here, InitEnv fails with an
// error wrapping *MissingKeyError rather than replacing a key others hold.
func (s *Store) InitEnv(env string) (recipient string, err error) {
	if err := checkEnv(env); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pubPath := s.path(env, ".pub")
	pub, pubErr := readRecipients(pubPath)
	if pubErr != nil && !errors.Is(pubErr, fs.ErrNotExist) {
		return "", pubErr
	}
	id, err := s.identity(env)
	var missing *MissingKeyError
	switch {
	case errors.As(err, &missing) && pub == nil:
		if id, err = s.generateKey(env); err != nil {
			return "", err
		}
	case errors.As(err, &missing):
		return "", fmt.Errorf("secrets: environment %q already has a public key in %s, but not its private key: "+
			"not generating a new one, which could not read the existing secrets: %w", env, pubPath, err)
	case err != nil:
		return "", err
	}
	recipient = id.recipient
	if pub != nil {
		if !slices.Contains(pub.strings, recipient) {
			return "", fmt.Errorf("secrets: the key from %s does not match the public key in %s (environment %q)", id.where, pubPath, env)
		}
		return recipient, nil
	}
	if err := os.MkdirAll(filepath.Dir(pubPath), 0o755); err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	if err := atomicfile.Write(pubPath, []byte(recipient+"\n"), 0o644); err != nil {
		return "", err
	}
	return recipient, nil
}

// Set sets secret name of env to value and re-encrypts the environment's
// file to its recipients. name must match ^[A-Z_][A-Z0-9_]*$ and value must be
// UTF-8 without NUL bytes (it ends up in a process environment). Adding to an
// environment that has secrets needs its private key (the file is decrypted,
// changed and encrypted again); the first secret needs only the public key.
func (s *Store) Set(env, name string, value []byte) error {
	if err := checkEnv(env); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	if !utf8.Valid(value) || bytes.IndexByte(value, 0) >= 0 {
		return fmt.Errorf("secrets: the value of %s is not valid UTF-8 text or contains a NUL byte", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.update(env, func(m map[string]string) error {
		m[name] = string(value)
		return nil
	})
}

// Remove deletes secret name from env. Removing a name that is not set is an
// error wrapping fs.ErrNotExist.
func (s *Store) Remove(env, name string) error {
	if err := checkEnv(env); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.update(env, func(m map[string]string) error {
		if _, ok := m[name]; !ok {
			return fmt.Errorf("secrets: %s is not set in environment %q: %w", name, env, fs.ErrNotExist)
		}
		delete(m, name)
		return nil
	})
}

// Names returns the sorted names of env's secrets, read from ENV.names: it
// needs no key. An environment without secrets has no names.
func (s *Store) Names(env string) ([]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	namesPath := s.path(env, ".names")
	data, err := os.ReadFile(namesPath)
	if errors.Is(err, fs.ErrNotExist) {
		if _, aerr := os.Stat(s.path(env, ".age")); aerr == nil {
			return nil, fmt.Errorf("secrets: %s is missing next to %s (environment %q); restore it from version control, "+
				"or set any secret of %q to write it again", namesPath, s.path(env, ".age"), env, env)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	var names []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !nameRe.MatchString(line) {
			return nil, fmt.Errorf("secrets: %s:%d: %q is not a valid secret name", namesPath, i+1, line)
		}
		names = append(names, line)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Values decrypts and returns env's secrets. It needs the environment's
// identity: without one it returns a *MissingKeyError saying where it looked.
// An environment without secrets has none, and needs no key.
func (s *Store) Values(env string) (map[string]string, error) {
	if err := checkEnv(env); err != nil {
		return nil, err
	}
	return s.load(env)
}

// update applies change to env's decrypted values and writes them back,
// encrypted to ENV.pub, together with ENV.names. s.mu must be held.
func (s *Store) update(env string, change func(map[string]string) error) error {
	pubPath := s.path(env, ".pub")
	pub, err := readRecipients(pubPath)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("secrets: environment %q has no public key (%s); initialize its keys first", env, pubPath)
	}
	if err != nil {
		return err
	}
	m, err := s.load(env)
	if err != nil {
		return err
	}
	if err := change(m); err != nil {
		return err
	}
	plain, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	defer clear(plain)
	var ct bytes.Buffer
	w, err := age.Encrypt(&ct, pub.recipients...)
	if err != nil {
		return fmt.Errorf("secrets: encrypting to %s: %w", pubPath, err)
	}
	if _, err := w.Write(plain); err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	list := strings.Join(names, "\n")
	if list != "" {
		list += "\n"
	}
	if err := atomicfile.Write(s.path(env, ".age"), ct.Bytes(), 0o644); err != nil {
		return err
	}
	return atomicfile.Write(s.path(env, ".names"), []byte(list), 0o644)
}

// load decrypts env's values; a missing ENV.age means no values.
func (s *Store) load(env string) (map[string]string, error) {
	agePath := s.path(env, ".age")
	ct, err := os.ReadFile(agePath)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	id, err := s.identity(env)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(bytes.NewReader(ct), id.identities...)
	var noMatch *age.NoIdentityMatchError
	if errors.As(err, &noMatch) {
		return nil, fmt.Errorf("secrets: %s (environment %q) does not decrypt with the key from %s: "+
			"it was encrypted to another key (another environment's, or a replaced one)", agePath, env, id.where)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: %s (environment %q) does not decrypt with the key from %s: "+
			"the file is corrupted or was tampered with (%v)", agePath, env, id.where, err)
	}
	plain, err := io.ReadAll(r)
	defer clear(plain)
	if err != nil {
		return nil, fmt.Errorf("secrets: %s (environment %q) does not decrypt with the key from %s: "+
			"the file is corrupted or was tampered with (%v)", agePath, env, id.where, err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(plain, &m); err != nil {
		// The decoder's message could quote plaintext: leave it out.
		return nil, fmt.Errorf("secrets: %s (environment %q) decrypts, but not to a JSON object of strings", agePath, env)
	}
	for n := range m {
		if !nameRe.MatchString(n) {
			return nil, fmt.Errorf("secrets: %s (environment %q) holds an invalid secret name %q", agePath, env, n)
		}
	}
	return m, nil
}

func checkEnv(env string) error {
	if !envRe.MatchString(env) {
		return fmt.Errorf("secrets: invalid environment name %q: must match %s", env, envRe)
	}
	return nil
}

func checkName(name string) error {
	if !nameRe.MatchString(name) {
		return fmt.Errorf("secrets: invalid secret name %q: must match %s, like DB_PASSWORD", name, nameRe)
	}
	return nil
}
