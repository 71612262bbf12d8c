package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/store"
)

// Source is the running agent behind the API.
type Source interface {
	Status(ctx context.Context) (*api.Status, error)
	Deploy(ctx context.Context, req api.DeployRequest) (*api.DeployResult, error)
	// Shutdown tears the environment down and stops the agent after the answer is sent.
	Shutdown(ctx context.Context) error
}

// Options configure the handler returned by New.
type Options struct {
	// Source answers status, deploy and shutdown requests.
	Source Source
	// Store backs the event, snapshot and release routes.
	Store store.Store
	// Env is the environment the agent runs: what deploy and down change,
	// and whose entity tag their If-Match is checked against.
	Env string
	// Logger receives request failures; nil discards them.
	Logger *slog.Logger
	// Auth checks the credentials every change needs. Without one the
	// agent accepts no change at all.
	Auth auth.Authenticator
	// Hosts are the names, besides localhost and loopback addresses, that
	// requests may carry in Host (421 otherwise).
	Hosts []string
}

// server holds the handler's dependencies. The unexported knobs exist so
// tests can pin time and speed up polling without widening the API.
type server struct {
	src Source
	st  store.Store
	env string
	log *slog.Logger

	auth     auth.Authenticator
	hosts    []string
	sessions *sessions

	// now and loc fix the clock and time zone the dashboard renders with.
	now func() time.Time
	loc *time.Location
	// pollEvery and heartbeatEvery pace the event stream.
	pollEvery      time.Duration
	heartbeatEvery time.Duration

	// shuttingDown makes POST /api/v1/down idempotent: tearing down twice
	// would race two Shutdown calls against each other.
	shuttingDown atomic.Bool
}

// New returns the agent's HTTP handler.
func New(opts Options) http.Handler {
	return newServer(opts).handler()
}

func newServer(opts Options) *server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &server{
		src:            opts.Source,
		st:             opts.Store,
		env:            opts.Env,
		log:            log,
		auth:           opts.Auth,
		hosts:          opts.Hosts,
		sessions:       newSessions(),
		now:            time.Now,
		loc:            time.Local,
		pollEvery:      250 * time.Millisecond,
		heartbeatEvery: 15 * time.Second,
	}
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok"))
	})

	mux.HandleFunc("GET /api/v1/openapi.yaml", s.handleOpenAPI)
	mux.HandleFunc("GET /api/v1/status", s.handleStatus)
	mux.HandleFunc("GET /api/v1/events", s.handleEvents)
	mux.HandleFunc("GET /api/v1/events/stream", s.handleEventStream)
	mux.HandleFunc("GET /api/v1/snapshots", s.handleSnapshots)
	mux.HandleFunc("GET /api/v1/snapshots/{id}", s.handleSnapshot)
	mux.HandleFunc("GET /api/v1/releases", s.handleReleases)
	mux.HandleFunc("POST /api/v1/deploy", s.handleDeploy)
	mux.HandleFunc("POST /api/v1/down", s.handleDown)
	mux.HandleFunc("GET /api/v1/ladder", s.handleLadder)
	mux.HandleFunc("POST /api/v1/promote", actionJSON(s, promoteAction))
	mux.HandleFunc("POST /api/v1/approve", actionJSON(s, approveAction))
	mux.HandleFunc("POST /api/v1/rollback", actionJSON(s, rollbackAction))
	mux.HandleFunc("POST /api/v1/login", s.handleLoginLink)
	mux.HandleFunc("GET /login", s.handleLogin)

	mux.HandleFunc("GET /{$}", s.handleDashboard)
	mux.HandleFunc("GET /events", s.handleEventsPage)
	mux.HandleFunc("GET /ladder", s.handleLadderPage)
	mux.HandleFunc("POST /ladder/promote", actionForm(s, promoteAction))
	mux.HandleFunc("POST /ladder/approve", actionForm(s, approveAction))
	mux.HandleFunc("POST /ladder/rollback", actionForm(s, rollbackAction))
	mux.HandleFunc("GET /assets/{name}", s.handleAsset)

	// The CLI sends no Origin or Sec-Fetch-Site header and passes; a browser
	// tab on another site trying to POST /api/v1/down, or to submit a form
	// to /ladder/rollback, does not. Every POST goes through this.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused",
			"deploys, promotions, approvals, rollbacks and down may only be requested from the dashboard's own origin or a non-browser client")
	}))

	return s.recoverPanics(s.hostChecked(cop.Handler(s.authenticated(apiErrors(mux)))))
}

// recoverPanics turns a panic in a handler into a logged 500 with a JSON
// body, so a bug never shows a client a Go stack trace or a dropped
// connection it cannot explain.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // the documented way to abort a response; not a bug
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path,
				"panic", v, "stack", string(debug.Stack()))
			if !tw.wrote {
				writeError(tw, http.StatusInternalServerError, "internal error", "the agent log has the details")
			}
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackingWriter remembers whether the header went out, so the panic
// handler knows whether an error answer is still possible.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and SetWriteDeadline.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// apiErrors answers unknown API routes and wrong methods with api.Error
// documents instead of the mux's plain-text pages, which API clients would
// otherwise have to special-case.
func apiErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" || !strings.HasPrefix(r.URL.Path, "/api/") {
			mux.ServeHTTP(w, r)
			return
		}
		// Let the mux decide between 404 and 405 (and set Allow), but keep
		// only its status.
		sw := &statusOnly{header: http.Header{}}
		h.ServeHTTP(sw, r)
		if allow := sw.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		switch {
		case sw.code >= 300 && sw.code < 400:
			// A redirect to the cleaned path ("/api//v1/status"): not an error.
			mux.ServeHTTP(w, r)
		case sw.code == http.StatusMethodNotAllowed:
			writeError(w, sw.code, r.Method+" is not allowed on "+r.URL.Path, "allowed: "+sw.header.Get("Allow"))
		default:
			writeError(w, http.StatusNotFound, "no such API route: "+r.URL.Path, "")
		}
	})
}

// statusOnly is a ResponseWriter that records the status and discards the body.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header { return s.header }
func (s *statusOnly) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
}
func (s *statusOnly) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	return len(b), nil
}

// errNoStore and errNoSource are what routes answer when the agent was
// started without the dependency they need.
var (
	errNoStore  = errors.New("this agent has no store")
	errNoSource = errors.New("this agent has no source")
)
