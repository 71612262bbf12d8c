package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// writeJSON sends v indented (people read these with curl as often as
// programs do). It marshals before writing the header so an unencodable
// value still gets a proper 500 rather than a truncated 200.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.MarshalIndent(api.Error{Error: "encode response: " + err.Error()}, "", "  ")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeError sends an api.Error.
func writeError(w http.ResponseWriter, status int, msg, hint string) {
	writeJSON(w, status, api.Error{Error: msg, Hint: hint})
}

// fail classifies err and answers with it. Store sentinels decide the
// status; everything unrecognised is the agent's fault (500) and is logged.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, promote.ErrNotAdmitted) {
		// The rung's admission refused: the message says why and what
		// to do.
		writeJSON(w, http.StatusConflict, api.Error{Error: err.Error(), Code: api.CodeNotAdmitted})
		return
	}
	status, hint := classify(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ladder"`)
	}
	if status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, status, err.Error(), hint)
}

func classify(err error) (status int, hint string) {
	var bad badRequest
	switch {
	case errors.As(err, &bad):
		return http.StatusBadRequest, bad.hint
	case errors.Is(err, auth.ErrUnauthenticated):
		return http.StatusUnauthorized, "send Authorization: Bearer TOKEN (ladder token create makes one; the CLI uses LADDER_TOKEN or .ladder/admin.token)"
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden, "ask an admin for the role: ladder token create NAME --role ROLE:ENV"
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "GET /api/v1/snapshots lists the known snapshots"
	case errors.Is(err, store.ErrAmbiguous):
		return http.StatusConflict, "give more digits of the ID"
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, ""
	case promote.IsPrecondition(err):
		return http.StatusPreconditionFailed, "read the environment again (its ETag is in GET /api/v1/status, /api/v1/releases?environment=NAME and each environment of /api/v1/ladder) and decide again"
	case errors.Is(err, errNoLadder):
		return http.StatusNotFound, ""
	case errors.Is(err, errNoStore), errors.Is(err, errNoSource):
		return http.StatusServiceUnavailable, ""
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, ""
	default:
		return http.StatusInternalServerError, ""
	}
}

// badRequest marks an error as the client's: malformed input.
type badRequest struct {
	msg, hint string
}

func (b badRequest) Error() string { return b.msg }

// IsBadInput reports whether err is the client's: malformed input,
// answered 400.
func IsBadInput(err error) bool {
	var bad badRequest
	return errors.As(err, &bad)
}

func badInput(hint, format string, args ...any) error {
	return badRequest{msg: fmt.Sprintf(format, args...), hint: hint}
}

// intParam reads a non-negative integer query parameter, def when absent.
func intParam(r *http.Request, name string, def int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badInput("", "%s must be a non-negative integer, not %q", name, v)
	}
	return n, nil
}

// limitParam reads the limit of a list route. Absent or 0 is the default,
// and more than the cap is the cap: to the store 0 means "everything",
// which one request should not be able to ask for.
func limitParam(r *http.Request) (int, error) {
	n, err := intParam(r, "limit", defaultListLimit)
	switch {
	case err != nil:
		return 0, err
	case n == 0:
		return defaultListLimit, nil
	default:
		return int(min(n, maxListLimit)), nil
	}
}

// snapshotParam resolves a snapshot query parameter to a full ID. Stored
// events and releases carry full IDs, so a prefix the user copied from the
// dashboard is looked up first (404/409 when it names no or several
// snapshots). A full ID is used as is: events may name a snapshot this
// store has not recorded.
func (s *server) snapshotParam(r *http.Request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	switch {
	case v == "", snapshot.ValidID(v):
		return v, nil
	case !snapshot.ValidPrefix(v):
		return "", badInput("use 4 to 64 lowercase hex digits", "%s: %q is not a snapshot ID or prefix", name, v)
	case s.st == nil:
		return "", errNoStore
	}
	snap, err := s.st.GetSnapshot(r.Context(), v)
	if err != nil {
		return "", err
	}
	return snap.ID, nil
}
