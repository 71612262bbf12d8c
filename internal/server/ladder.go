package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// LadderSource is what a Source implements, optionally, to serve the
// ladder: every environment side by side, and the actions that move a
// snapshot between them. The server finds it with a type assertion; an
// agent whose Source lacks it answers the ladder routes with 404.
type LadderSource interface {
	Ladder(ctx context.Context) (*api.Ladder, error)
	// Promote, Approve and Rollback report an action a gate or the
	// ladder refused as ActionResult{OK: false, Error: ...}; an error is
	// for an action that could not be attempted at all.
	Promote(ctx context.Context, req api.PromoteRequest) (*api.ActionResult, error)
	Approve(ctx context.Context, req api.ApproveRequest) (*api.ActionResult, error)
	Rollback(ctx context.Context, req api.RollbackRequest) (*api.ActionResult, error)
}

var errNoLadder = errors.New("this agent does not serve the ladder view")

// maxFlash bounds the message carried in the redirect's query string.
const maxFlash = 600

// ladder returns the source's LadderSource, or nil.
func (s *server) ladder() LadderSource {
	ls, _ := s.src.(LadderSource)
	return ls
}

func (s *server) handleLadder(w http.ResponseWriter, r *http.Request) {
	ls := s.ladder()
	if ls == nil {
		s.fail(w, r, errNoLadder)
		return
	}
	l, err := readLadder(r.Context(), ls)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	l = normalizeLadder(l)
	for i, e := range l.Environments {
		if s.st != nil && e.ETag == "" {
			if tag, err := s.envTag(r.Context(), e.Name); err == nil {
				l.Environments[i].ETag = tag
			}
		}
	}
	writeJSON(w, http.StatusOK, l)
}

// readLadder asks the source, never returning nil without an error.
func readLadder(ctx context.Context, ls LadderSource) (*api.Ladder, error) {
	l, err := ls.Ladder(ctx)
	if err == nil && l == nil {
		err = errors.New("source returned no ladder")
	}
	return l, err
}

// normalizeLadder makes the lists clients range over encode as [] rather
// than null.
func normalizeLadder(l *api.Ladder) *api.Ladder {
	out := *l
	out.Environments = nonNil(l.Environments)
	out.Snapshots = nonNil(l.Snapshots)
	envs := make([]api.LadderEnv, len(out.Environments))
	for i, e := range out.Environments {
		e.Sites = nonNil(e.Sites)
		envs[i] = e
	}
	out.Environments = envs
	snaps := make([]api.SnapshotSummary, len(out.Snapshots))
	for i, sn := range out.Snapshots {
		sn.Running = nonNil(sn.Running)
		snaps[i] = sn
	}
	out.Snapshots = snaps
	return &out
}

func (s *server) handleLadderPage(w http.ResponseWriter, r *http.Request) {
	ls := s.ladder()
	if ls == nil {
		s.fail(w, r, errNoLadder)
		return
	}
	p := s.statusPage("ladder", nil)
	p.Interactive = true
	p.Flash = flashOf(r.URL.Query())
	code := http.StatusOK
	l, err := readLadder(r.Context(), ls)
	if err != nil {
		code, _ = classify(err)
		p.Err = "Cannot read the ladder: " + err.Error()
		s.log.Error("ladder page", "err", err)
	} else {
		p.Ladder = s.ladderView(l)
		p.Stack = l.Stack
		if c, ok := callerOf(r.Context()); ok && c.session != nil {
			p.User = c.p.Name
			for i := range p.Ladder.Envs {
				p.Ladder.Envs[i].CSRF = c.session.csrf
			}
		}
		p.Title = strings.TrimSpace("Ladder · " + l.Stack + " — ladder")
	}
	s.render(w, r, ladderTmpl(), p, code)
}

// ladderAction is one of promote, approve and rollback: how its request
// is read from a form, checked, and carried out. The JSON route and the
// page's form route share everything but the reading.
type ladderAction[R any] struct {
	name string
	// action is what the caller needs a role for, on env(R).
	action auth.Action
	// by sets who acts: the authenticated caller, never a field sent.
	by    func(*R, string)
	form  func(url.Values) R
	check func(*R) error
	run   func(context.Context, LadderSource, R) (*api.ActionResult, error)
	// env is the environment the action changes, whose entity tag an
	// If-Match names.
	env func(R) string
	// done describes a success whose result carries no message.
	done func(R) string
}

var promoteAction = ladderAction[api.PromoteRequest]{
	name:   "promote",
	action: auth.ActionPromote,
	by:     func(r *api.PromoteRequest, name string) { r.By = name },
	form: func(v url.Values) api.PromoteRequest {
		return api.PromoteRequest{Snapshot: field(v, "snapshot"), To: field(v, "to"), Why: field(v, "why")}
	},
	check: func(r *api.PromoteRequest) error {
		if err := checkSnapshot("snapshot", r.Snapshot, true); err != nil {
			return err
		}
		return required("to", r.To, `send {"snapshot": "<id or prefix>", "to": "<environment>"}`)
	},
	run: func(ctx context.Context, ls LadderSource, r api.PromoteRequest) (*api.ActionResult, error) {
		return ls.Promote(ctx, r)
	},
	env:  func(r api.PromoteRequest) string { return r.To },
	done: func(r api.PromoteRequest) string { return "promoted " + snapshot.Short(r.Snapshot) + " to " + r.To },
}

var approveAction = ladderAction[api.ApproveRequest]{
	name:   "approve",
	action: auth.ActionApprove,
	by:     func(r *api.ApproveRequest, name string) { r.By = name },
	form: func(v url.Values) api.ApproveRequest {
		return api.ApproveRequest{Snapshot: field(v, "snapshot"), Env: field(v, "environment"), Comment: field(v, "comment")}
	},
	check: func(r *api.ApproveRequest) error {
		if err := checkSnapshot("snapshot", r.Snapshot, true); err != nil {
			return err
		}
		return required("environment", r.Env, `send {"snapshot": "<id or prefix>", "environment": "<name>"}`)
	},
	run: func(ctx context.Context, ls LadderSource, r api.ApproveRequest) (*api.ActionResult, error) {
		return ls.Approve(ctx, r)
	},
	env: func(r api.ApproveRequest) string { return r.Env },
	done: func(r api.ApproveRequest) string {
		return r.By + " approved " + snapshot.Short(r.Snapshot) + " for " + r.Env
	},
}

var rollbackAction = ladderAction[api.RollbackRequest]{
	name:   "rollback",
	action: auth.ActionRollback,
	by:     func(r *api.RollbackRequest, name string) { r.By = name },
	form: func(v url.Values) api.RollbackRequest {
		return api.RollbackRequest{Env: field(v, "environment"), To: field(v, "to"), Why: field(v, "why")}
	},
	check: func(r *api.RollbackRequest) error {
		if err := required("environment", r.Env, `send {"environment": "<name>"} (and "to" for another snapshot than the last known-good)`); err != nil {
			return err
		}
		return checkSnapshot("to", r.To, false)
	},
	run: func(ctx context.Context, ls LadderSource, r api.RollbackRequest) (*api.ActionResult, error) {
		return ls.Rollback(ctx, r)
	},
	env:  func(r api.RollbackRequest) string { return r.Env },
	done: func(r api.RollbackRequest) string { return "rolled " + r.Env + " back" },
}

// perform checks req and carries it out; a nil result without an error
// is the source's bug.
func (a ladderAction[R]) perform(ctx context.Context, ls LadderSource, req R) (*api.ActionResult, error) {
	if err := a.check(&req); err != nil {
		return nil, err
	}
	res, err := a.run(ctx, ls, req)
	if err == nil && res == nil {
		err = errors.New(a.name + " returned no result")
	}
	if err != nil {
		return nil, err
	}
	if res.Promotion != nil && res.Promotion.Gates == nil {
		pv := *res.Promotion
		pv.Gates = []store.GateResult{}
		res.Promotion = &pv
	}
	return res, nil
}

// actionJSON serves POST /api/v1/<action>: a strictly decoded JSON
// request in, an ActionResult out. A refusal (a gate not passed) is a
// 200 with OK false: the request was understood and answered.
func actionJSON[R any](s *server, a ladderAction[R]) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ls := s.ladder()
		if ls == nil {
			s.fail(w, r, errNoLadder)
			return
		}
		var req R
		if err := decodeJSON(w, r, &req); err != nil {
			s.fail(w, r, err)
			return
		}
		p, err := s.principalFor(r, a.env(req), a.action)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		a.by(&req, p.Name)
		if err := s.precondition(r, a.env(req)); err != nil {
			s.fail(w, r, err)
			return
		}
		res, err := a.perform(r.Context(), ls, req)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// actionForm serves POST /ladder/<action>, what the page's forms send:
// it carries the action out and answers 303 to the ladder page with the
// outcome in the query string, so the page works without script and a
// reload does not repeat the action. The action outlives the request: a
// closed tab must not cancel a deploy half-way.
func actionForm[R any](s *server, a ladderAction[R]) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ls := s.ladder()
		if ls == nil {
			s.fail(w, r, errNoLadder)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			flashRedirect(w, r, "error", a.name+": cannot read the form: "+err.Error())
			return
		}
		if r.PostForm.Has("by") {
			s.fail(w, r, badInput("the dashboard acts as the person logged in", `"by" is not accepted`))
			return
		}
		req := a.form(r.PostForm)
		p, err := s.principalFor(r, a.env(req), a.action)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		a.by(&req, p.Name)
		res, err := a.perform(context.WithoutCancel(r.Context()), ls, req)
		switch {
		case err != nil:
			if code, _ := classify(err); code >= 500 {
				s.log.Error("ladder action failed", "action", a.name, "err", err)
			}
			flashRedirect(w, r, "error", a.name+" failed: "+err.Error())
		case !res.OK:
			flashRedirect(w, r, "error", firstOf(res.Error, res.Message, a.name+" refused"))
		default:
			flashRedirect(w, r, "ok", firstOf(res.Message, a.done(req)))
		}
	}
}

func flashRedirect(w http.ResponseWriter, r *http.Request, kind, msg string) {
	q := url.Values{kind: {clip(msg, maxFlash)}}
	http.Redirect(w, r, "/ladder?"+q.Encode(), http.StatusSeeOther)
}

// flashView is the banner the page shows after an action.
type flashView struct {
	OK      bool
	Message string
}

// flashOf reads the outcome an action's redirect put in the query
// string. It is text the template escapes like any other.
func flashOf(q url.Values) *flashView {
	if m := q.Get("error"); m != "" {
		return &flashView{Message: clip(m, maxFlash)}
	}
	if m := q.Get("ok"); m != "" {
		return &flashView{OK: true, Message: clip(m, maxFlash)}
	}
	return nil
}

// field reads one form value, trimmed: people type identities with
// stray spaces.
func field(v url.Values, name string) string { return strings.TrimSpace(v.Get(name)) }

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func required(name, v, hint string) error {
	if strings.TrimSpace(v) == "" {
		return badInput(hint, "%s is required", name)
	}
	return nil
}

// checkSnapshot validates a snapshot ID or prefix; an empty one is an
// error only when the field is required.
func checkSnapshot(name, v string, need bool) error {
	switch {
	case v == "" && need:
		return badInput(`send {"`+name+`": "<id or prefix>"}`, "%s is required", name)
	case v != "" && !snapshot.ValidPrefix(v):
		return badInput("use 4 to 64 lowercase hex digits", "%s: %q is not a snapshot ID or prefix", name, v)
	}
	return nil
}

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
