package server

import (
	"context"
	"net/http"

	"github.com/ladderhq/ladder/internal/promote"
)

// Entity tags and If-Match: see promote.EnvTag.

// envTag is the entity tag of env's current state (promote.EnvTag).
func (s *server) envTag(ctx context.Context, env string) (string, error) {
	if s.st == nil {
		return "", errNoStore
	}
	return promote.EnvTag(ctx, s.st, env)
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

// precondition checks the request's If-Match against env's tag; a
// request without one is not conditional.
func (s *server) precondition(r *http.Request, env string) error {
	if r.Header.Get("If-Match") == "" || env == "" {
		return nil
	}
	if s.st == nil {
		return errNoStore
	}
	return promote.CheckIfMatch(r.Context(), s.st, env, r.Header.Get("If-Match"))
}
