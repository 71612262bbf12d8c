package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// Limits on list routes: a default that fits a terminal and a cap that
// keeps one request from reading the whole database.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
	// maxBody bounds request bodies; a deploy request is a few dozen bytes.
	maxBody = 1 << 20
)

func (s *server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.status(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.setETag(w, r, st.Environment)
	writeJSON(w, http.StatusOK, st)
}

// status asks the source, never returning a nil document without an error.
func (s *server) status(ctx context.Context) (*api.Status, error) {
	if s.src == nil {
		return nil, errNoSource
	}
	st, err := s.src.Status(ctx)
	if err == nil && st == nil {
		err = errors.New("source returned no status")
	}
	return st, err
}

// eventFilter reads the filters shared by the event list and the stream.
func (s *server) eventFilter(r *http.Request) (store.EventFilter, error) {
	var f store.EventFilter
	after, err := intParam(r, "after", 0)
	if err != nil {
		return f, err
	}
	before, err := intParam(r, "before", 0)
	if err != nil {
		return f, err
	}
	limit, err := limitParam(r)
	if err != nil {
		return f, err
	}
	snap, err := s.snapshotParam(r, "snapshot")
	if err != nil {
		return f, err
	}
	q := r.URL.Query()
	f = store.EventFilter{
		Env:      q.Get("environment"),
		Site:     q.Get("site"),
		Snapshot: snap,
		Service:  q.Get("service"),
		Kind:     store.EventKind(q.Get("kind")),
		AfterID:  after,
		BeforeID: before,
		Limit:    limit,
	}
	return f, nil
}

func (s *server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if s.st == nil {
		s.fail(w, r, errNoStore)
		return
	}
	f, err := s.eventFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	events, err := s.st.ListEvents(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// A full page has neighbours: the older events before its first, and
	// (to poll) the newer ones after its last.
	if len(events) == f.Limit {
		links := []string{pageLink(r, "after", strconv.FormatInt(events[len(events)-1].ID, 10), "before", "next")}
		if f.AfterID <= 0 {
			links = append(links, pageLink(r, "before", strconv.FormatInt(events[0].ID, 10), "after", "prev"))
		}
		w.Header()["Link"] = links
	}
	writeJSON(w, http.StatusOK, nonNil(events))
}

func (s *server) handleSnapshots(w http.ResponseWriter, r *http.Request) {
	if s.st == nil {
		s.fail(w, r, errNoStore)
		return
	}
	limit, err := limitParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	before, err := s.snapshotParam(r, "before")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	snaps, err := s.st.ListSnapshots(r.Context(), store.SnapshotFilter{Limit: limit, Before: before})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(snaps) == limit {
		w.Header().Set("Link", pageLink(r, "before", snaps[len(snaps)-1].ID, "", "next"))
	}
	writeJSON(w, http.StatusOK, nonNil(snaps))
}

func (s *server) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	if s.st == nil {
		s.fail(w, r, errNoStore)
		return
	}
	id := r.PathValue("id")
	if !snapshot.ValidPrefix(id) {
		s.fail(w, r, badInput("use 4 to 64 lowercase hex digits", "%q is not a snapshot ID or prefix", id))
		return
	}
	snap, err := s.st.GetSnapshot(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, snap)
}

func (s *server) handleReleases(w http.ResponseWriter, r *http.Request) {
	if s.st == nil {
		s.fail(w, r, errNoStore)
		return
	}
	limit, err := limitParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	snap, err := s.snapshotParam(r, "snapshot")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	before, err := intParam(r, "before", 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	rels, err := s.st.ListReleases(r.Context(), store.ReleaseFilter{
		Env:      q.Get("environment"),
		Site:     q.Get("site"),
		Snapshot: snap,
		Phase:    store.Phase(q.Get("phase")),
		BeforeID: before,
		Limit:    limit,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(rels) == limit {
		w.Header().Set("Link", pageLink(r, "before", strconv.FormatInt(rels[len(rels)-1].ID, 10), "", "next"))
	}
	s.setETag(w, r, q.Get("environment"))
	writeJSON(w, http.StatusOK, nonNil(rels))
}

// handleDeploy runs a deploy for as long as it takes. A failed release is
// not an API error: the answer is 200 with DeployResult.Error set, since the
// request was carried out and the previous release still serves. Only a
// deploy that could not be attempted is an error status.
func (s *server) handleDeploy(w http.ResponseWriter, r *http.Request) {
	if s.src == nil {
		s.fail(w, r, errNoSource)
		return
	}
	var req api.DeployRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.principalFor(r, s.env, auth.ActionDeploy)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req.By = p.Name
	if req.Snapshot == "" {
		s.fail(w, r, badInput(`send {"snapshot": "<id or prefix>"}`, "snapshot is required"))
		return
	}
	if !snapshot.ValidPrefix(req.Snapshot) {
		s.fail(w, r, badInput("use 4 to 64 lowercase hex digits", "%q is not a snapshot ID or prefix", req.Snapshot))
		return
	}
	if err := s.precondition(r, s.env); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.src.Deploy(r.Context(), req)
	if err == nil && res == nil {
		err = errors.New("deploy returned no result")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The release records and audits p.Name as who asked for it.
	if res.Changed == nil {
		res.Changed = []string{}
	}
	writeJSON(w, http.StatusOK, res)
}

// decodeJSON reads exactly one JSON document with no unknown fields, so a
// misspelt field is an error rather than a silently ignored option.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return badInput("", "empty request body: expected a JSON document")
		}
		if strings.Contains(err.Error(), `unknown field "by"`) {
			return badInput("who acts comes from the credential (Authorization: Bearer TOKEN): remove \"by\"", `"by" is not accepted`)
		}
		return badInput("", "malformed JSON request: %v", err)
	}
	if dec.More() {
		return badInput("", "malformed JSON request: more than one document")
	}
	return nil
}

// downAnswer is the body of POST /api/v1/down.
type downAnswer struct {
	Status string `json:"status"`
}

// handleDown answers first and tears down afterwards: Shutdown stops the
// agent, HTTP server included, so waiting for it inside the handler would
// leave the client without an answer (or deadlock a graceful server
// shutdown waiting for this very request).
func (s *server) handleDown(w http.ResponseWriter, r *http.Request) {
	if s.src == nil {
		s.fail(w, r, errNoSource)
		return
	}
	p, err := s.principalFor(r, s.env, auth.ActionDown)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.precondition(r, s.env); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r.Context(), store.AuditEntry{Actor: p.Name, Action: "down", Env: s.env, Outcome: "requested"})
	if !s.shuttingDown.CompareAndSwap(false, true) {
		writeJSON(w, http.StatusAccepted, downAnswer{Status: "already shutting down"})
		return
	}
	writeJSON(w, http.StatusAccepted, downAnswer{Status: "shutting down"})
	if err := http.NewResponseController(w).Flush(); err != nil {
		s.log.Warn("down: flush answer", "err", err)
	}
	// The request's context ends when this handler returns; the teardown
	// must outlive it.
	ctx := context.WithoutCancel(r.Context())
	go func() {
		start := time.Now()
		if err := s.src.Shutdown(ctx); err != nil {
			s.log.Error("shutdown failed", "err", err, "after", time.Since(start))
			// Let the user try again rather than answer "already" forever.
			s.shuttingDown.Store(false)
		}
	}()
}

// pageLink is an RFC 8288 Link to the neighbouring page of a list: the
// request's own URL with cursor set to id (and drop, when set, removed).
func pageLink(r *http.Request, cursor, id, drop, rel string) string {
	q := r.URL.Query()
	q.Set(cursor, id)
	if drop != "" {
		q.Del(drop)
	}
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	return "<" + u.String() + `>; rel="` + rel + `"`
}

// nonNil makes empty lists encode as [] rather than null, so clients can
// range over the answer without a nil check.
func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
