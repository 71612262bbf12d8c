package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/ladderhq/ladder/internal/atomicfile"
)

// MissingKeyError is returned when an environment's private key is needed
// but found neither in its variable nor in its key file.
type MissingKeyError struct {
	Env    string
	Looked []string // where the key was looked for: "$LADDER_KEY_ENV", key file paths
}

func (e *MissingKeyError) Error() string {
	return fmt.Sprintf("secrets: no private key for environment %q (looked at %s); "+
		"get the key (a line starting AGE-SECRET-KEY-1) from someone who has it and save it in the key file "+
		"with mode 0600, or put it in the variable (in CI, say)",
		e.Env, strings.Join(e.Looked, ", "))
}

// KeyEnvVar is the environment variable that may carry env's identity:
// LADDER_KEY_ followed by env upper-cased, with '-' turned into '_'.
func KeyEnvVar(env string) string {
	return "LADDER_KEY_" + strings.ReplaceAll(strings.ToUpper(env), "-", "_")
}

// identity is a loaded private key and where it came from, for messages.
type identity struct {
	identities []age.Identity
	recipient  string // of the first identity
	where      string // "$LADDER_KEY_ENV" or the key file's path
}

func (s *Store) keyPath(env string) string {
	return filepath.Join(s.keysDir, env+".key")
}

// identity finds env's private key: LADDER_KEY_<ENV> first, then the key
// file. Neither is a *MissingKeyError.
func (s *Store) identity(env string) (*identity, error) {
	v := KeyEnvVar(env)
	if text := os.Getenv(v); strings.TrimSpace(text) != "" {
		return parseIdentity(text, "$"+v)
	}
	path := s.keyPath(env)
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &MissingKeyError{Env: env, Looked: []string{"$" + v, path}}
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secrets: key file %s (environment %q) is accessible by other users (mode %v); "+
			"run chmod 600 %s", path, env, info.Mode().Perm(), path)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return parseIdentity(string(text), path)
}

// parseIdentity parses an age identity file's content. Its errors never
// quote the content.
func parseIdentity(text, where string) (*identity, error) {
	lines := strings.Split(text, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i]) // CRLF, pasted blanks
	}
	ids, err := age.ParseIdentities(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		return nil, fmt.Errorf("secrets: %s does not hold an age private key (a line starting AGE-SECRET-KEY-1)", where)
	}
	id := &identity{identities: ids, where: where}
	switch k := ids[0].(type) {
	case *age.X25519Identity:
		id.recipient = k.Recipient().String()
	case *age.HybridIdentity:
		id.recipient = k.Recipient().String()
	default:
		return nil, fmt.Errorf("secrets: %s holds an unsupported kind of age key", where)
	}
	return id, nil
}

// generateKey creates env's key file with a new X25519 identity. If another
// process wrote one first, that one is used.
func (s *Store) generateKey(env string) (*identity, error) {
	k, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	path := s.keyPath(env)
	if err := os.MkdirAll(s.keysDir, 0o700); err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	text := fmt.Sprintf("# ladder key of environment %s, created %s\n# public key: %s\n%s\n",
		env, time.Now().UTC().Format(time.RFC3339), k.Recipient(), k)
	err = atomicfile.Create(path, []byte(text), 0o600)
	if errors.Is(err, fs.ErrExist) {
		return s.identity(env)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: creating key file: %w", err)
	}
	return &identity{identities: []age.Identity{k}, recipient: k.Recipient().String(), where: path}, nil
}

// recipients is a parsed ENV.pub.
type recipients struct {
	recipients []age.Recipient
	strings    []string
}

// readRecipients parses a public key file: age recipients, one per line;
// empty lines and lines starting with '#' are ignored. A missing file is an
// error wrapping fs.ErrNotExist.
func readRecipients(path string) (*recipients, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secrets: %w", err)
	}
	r := &recipients{}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			r.strings = append(r.strings, line)
		}
	}
	// Trimmed lines: a checkout with CRLF line endings must still parse.
	r.recipients, err = age.ParseRecipients(strings.NewReader(strings.Join(r.strings, "\n")))
	if err != nil {
		return nil, fmt.Errorf("secrets: %s is not an age public key file: %v", path, err)
	}
	return r, nil
}
