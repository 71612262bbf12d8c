package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ladderhq/ladder/internal/store"
)

// An environment's entity tag names the state a client saw: the newest
// release of the environment (on any site, in any phase), so every
// deploy, promotion or rollback that starts there changes it. A mutation
// sent with If-Match is carried out only while the environment is still
// in that state: a promotion decided on what the dashboard showed is not
// applied on top of a rollback someone else started meanwhile.

// envTag is the entity tag of env's current state.
func (s *server) envTag(ctx context.Context, env string) (string, error) {
	if s.st == nil {
		return "", errNoStore
	}
	rels, err := s.st.ListReleases(ctx, store.ReleaseFilter{Env: env, Limit: 1})
	if err != nil {
		return "", err
	}
	var id int64
	if len(rels) > 0 {
		id = rels[0].ID
	}
	return fmt.Sprintf(`"%s.%d"`, env, id), nil
}

// setETag sends env's tag with a read answer; a store that cannot say
// leaves the answer without one rather than failing it.
func (s *server) setETag(w http.ResponseWriter, r *http.Request, env string) {
	if env == "" || s.st == nil {
		return
	}
	if tag, err := s.envTag(r.Context(), env); err == nil {
		w.Header().Set("ETag", tag)
	}
}

// errPrecondition is an If-Match that no longer holds.
type errPrecondition struct {
	env, sent, now string
}

func (e *errPrecondition) Error() string {
	return fmt.Sprintf("%s changed since it was read (If-Match %s, now %s)", e.env, e.sent, e.now)
}

// precondition checks the request's If-Match against env's tag; a
// request without one is not conditional.
func (s *server) precondition(r *http.Request, env string) error {
	sent := r.Header.Get("If-Match")
	if sent == "" || env == "" {
		return nil
	}
	now, err := s.envTag(r.Context(), env)
	if err != nil {
		return err
	}
	for _, t := range strings.Split(sent, ",") {
		if t = strings.TrimSpace(t); t == "*" || t == now {
			return nil
		}
	}
	return &errPrecondition{env: env, sent: sent, now: now}
}

func isPrecondition(err error) bool {
	var pe *errPrecondition
	return errors.As(err, &pe)
}
