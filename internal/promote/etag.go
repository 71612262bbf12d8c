package promote

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ladderhq/ladder/internal/store"
)

// An environment's entity tag names the state a client saw: the newest
// release of the environment (on any site, in any phase), so every
// deploy, promotion or rollback that starts there changes it. A change
// asked for with If-Match is carried out only while the environment is
// still in that state: a promotion decided on what a dashboard showed is
// not applied on top of a rollback someone else started meanwhile.

// ReleaseLister is the part of the store an entity tag reads.
type ReleaseLister interface {
	ListReleases(ctx context.Context, f store.ReleaseFilter) ([]store.Release, error)
}

// EnvTag is the entity tag (quoted, as HTTP sends it) of env's state.
func EnvTag(ctx context.Context, st ReleaseLister, env string) (string, error) {
	rels, err := st.ListReleases(ctx, store.ReleaseFilter{Env: env, Limit: 1})
	if err != nil {
		return "", err
	}
	var id int64
	if len(rels) > 0 {
		id = rels[0].ID
	}
	return fmt.Sprintf(`"%s.%d"`, env, id), nil
}

// PreconditionError is an If-Match that no longer holds (HTTP 412).
type PreconditionError struct {
	Env, Sent, Now string
}

func (e *PreconditionError) Error() string {
	return fmt.Sprintf("%s changed since it was read (If-Match %s, now %s)", e.Env, e.Sent, e.Now)
}

// IsPrecondition reports whether err is a *PreconditionError.
func IsPrecondition(err error) bool {
	var pe *PreconditionError
	return errors.As(err, &pe)
}

// CheckIfMatch checks an If-Match value (one or more tags, or "*")
// against env's tag now; an empty value asks for nothing.
func CheckIfMatch(ctx context.Context, st ReleaseLister, env, ifMatch string) error {
	if ifMatch == "" || env == "" {
		return nil
	}
	now, err := EnvTag(ctx, st, env)
	if err != nil {
		return err
	}
	for t := range strings.SplitSeq(ifMatch, ",") {
		if t = strings.TrimSpace(t); t == "*" || t == now {
			return nil
		}
	}
	return &PreconditionError{Env: env, Sent: ifMatch, Now: now}
}
