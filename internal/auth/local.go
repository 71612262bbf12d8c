package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/internal/atomicfile"
	"github.com/ladderhq/ladder/internal/store"
)

// EnvToken names the environment variable whose token overrides the
// local one: how a second person, or CI, acts on a laptop's ladder.
const EnvToken = "LADDER_TOKEN"

type credentialKey struct{}

// WithCredential carries the credential of whoever a request acts for, so
// that what it asks of other agents is asked as them.
func WithCredential(ctx context.Context, cred string) context.Context {
	return context.WithValue(ctx, credentialKey{}, cred)
}

// CredentialFrom returns the credential WithCredential put in ctx, or "".
func CredentialFrom(ctx context.Context) string {
	v, _ := ctx.Value(credentialKey{}).(string)
	return v
}

// LocalTokenFile is the local admin token's file in the state directory.
const LocalTokenFile = "admin.token"

// CredentialFromEnv reports whether Credential comes from LADDER_TOKEN.
func CredentialFromEnv() bool { return strings.TrimSpace(os.Getenv(EnvToken)) != "" }

// LocalTokenPath returns where the local admin token of stateDir is kept.
func LocalTokenPath(stateDir string) string { return filepath.Join(stateDir, LocalTokenFile) }

// Credential returns the token a client on this machine uses for the
// project whose state directory is stateDir: LADDER_TOKEN when set, else
// the local admin token file, else "".
func Credential(stateDir string) string {
	if v := strings.TrimSpace(os.Getenv(EnvToken)); v != "" {
		return v
	}
	b, err := os.ReadFile(LocalTokenPath(stateDir))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// LocalName is the name the local admin token authenticates as: the
// user's login name, so the audit trail reads like the people in it.
func LocalName() string {
	if u, err := user.Current(); err == nil && CheckName(u.Username) == nil {
		return NormalizeName(u.Username)
	}
	if v := os.Getenv("USER"); CheckName(v) == nil {
		return NormalizeName(v)
	}
	return "local-admin"
}

// EnsureLocalToken makes sure the laptop's admin token exists: on first
// use it creates a token with admin:* for LocalName, writes its secret to
// stateDir/admin.token (mode 0600, readable by this user only) and records
// its hash in st. A file whose token the store does not know (the store
// was replaced) is replaced. Processes starting at once agree through an
// exclusive lock on a file beside it.
func EnsureLocalToken(ctx context.Context, st store.Tokens, stateDir string) error {
	path := LocalTokenPath(stateDir)
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if b, err := os.ReadFile(path); err == nil {
		secret := strings.TrimSpace(string(b))
		_, err := st.TokenByHash(ctx, HashSecret(secret))
		if err == nil {
			return checkMode(path)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	name := LocalName()
	// The file is the only copy of the old local token's secret: with it
	// gone, a token of the same name is unusable, and is replaced.
	if err := st.RevokeToken(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	secret, _, err := NewToken(ctx, st, name, []Grant{{Role: Admin, Env: AnyEnv}}, 0, time.Now())
	if err != nil {
		return fmt.Errorf("creating the local admin token: %w", err)
	}
	return atomicfile.Write(path, []byte(secret+"\n"), 0o600)
}

// checkMode refuses a token file others can read: its secret is an
// admin's.
func checkMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is readable by other users (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	return nil
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// WithLocalFallback authenticates with next and, only when next cannot
// answer at all (its store is lost or unreachable, not a credential it
// refused), accepts this machine's local admin token as read from
// stateDir now: what runs must stay stoppable while the store is
// restored.
func WithLocalFallback(next Authenticator, stateDir string) Authenticator {
	return &localFallback{next: next, stateDir: stateDir}
}

type localFallback struct {
	next     Authenticator
	stateDir string
}

func (l *localFallback) Authenticate(ctx context.Context, cred string) (Principal, error) {
	p, err := l.next.Authenticate(ctx, cred)
	if err == nil || errors.Is(err, ErrUnauthenticated) || cred == "" {
		return p, err
	}
	b, rerr := os.ReadFile(LocalTokenPath(l.stateDir))
	if rerr != nil || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(string(b))), []byte(cred)) != 1 {
		return p, err
	}
	return Principal{Name: LocalName(), Grants: []Grant{{Role: Admin, Env: AnyEnv}}}, nil
}
