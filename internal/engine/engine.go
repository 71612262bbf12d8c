package engine

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/statefile"
	"github.com/ladderhq/ladder/internal/store"
)

// Runner runs one environment: the agent.
type Runner interface {
	// Listen takes the environment (its agent lease) and binds its
	// dashboard; fellBack says the configured address was taken and a
	// free port serves instead.
	Listen() (fellBack bool, err error)
	// URL is where the environment's dashboard and API answer.
	URL() string
	// Run serves the environment until ctx ends or it is taken down
	// (`ladder down`). When ctx ends because the engine lost its lease
	// (its cause is lease.ErrLapsed), another engine owns the sites now
	// and Run leaves them as they are; otherwise it takes them down.
	Run(ctx context.Context) error
}

// RunRequest asks the engine to run an environment.
type RunRequest struct {
	Env string `json:"env"`
	// Dashboard overrides the environment's dashboard address.
	Dashboard string `json:"dashboard,omitempty"`
	// Target overrides the environment's target kind (--target,
	// LADDER_TARGET of the command that asks).
	Target string `json:"target,omitempty"`
	// AllowRemote lets the dashboard listen where other machines reach it.
	AllowRemote bool `json:"allowRemote,omitempty"`
}

// EnvInfo is an environment the engine runs.
type EnvInfo struct {
	Env     string    `json:"env"`
	URL     string    `json:"url"`
	Started time.Time `json:"started"`
	// FellBack says the configured dashboard address was taken when the
	// environment started, and URL is a free port instead.
	FellBack bool `json:"fellBack,omitempty"`
}

// Info describes a running engine (STATE/engine.json, GET /v1/engine).
type Info struct {
	PID    int          `json:"pid"`
	Holder store.Holder `json:"holder"`
	// Socket is the Unix socket the engine answers on.
	Socket  string    `json:"socket"`
	Started time.Time `json:"started"`
	// Served is true for `ladder serve`, which keeps running with no
	// environment; a background engine ends with its last one.
	Served bool `json:"served"`
	// URL is where the API answers over TCP (ladder serve --listen).
	URL  string    `json:"url,omitempty"`
	Envs []EnvInfo `json:"envs,omitempty"`
}

// Options configure an engine.
type Options struct {
	// StateDir is where engine.json (and, when the path fits, the socket)
	// are kept.
	StateDir string
	Store    store.Leases
	// New makes the runner for an environment.
	New func(ctx context.Context, req RunRequest) (Runner, error)
	// Auth checks the credential of a request to run an environment
	// (the deployer role on it); nil checks nothing (tests).
	Auth   auth.Authenticator
	Logger *slog.Logger
	// Served keeps the engine running with no environment (ladder serve).
	Served bool
	// Wait is how long Start waits for another engine's lease to lapse;
	// negative waits until ctx ends (a standby replica).
	Wait time.Duration
	// OnStandby is told, once, which engine holds the lease while Start
	// waits for it.
	OnStandby func(store.Lease)
	// TakeOver runs once the lease is held, before anything starts: it
	// closes what an engine that died left half done.
	TakeOver func(ctx context.Context) error
	// IdleGrace is how long a background engine waits for its first
	// environment before it ends (default 15s).
	IdleGrace time.Duration
	// Lease tunes the engine lease (tests); the zero value is the default.
	Lease lease.Options
	// Holder is who holds the lease (tests run several engines in one
	// process); the zero value is this process, lease.Self.
	Holder store.Holder
	// Routes adds the verbs thin clients send (promote, rollback, …) to
	// the engine's API; every one is documented in openapi.yaml.
	Routes func(mux Mux)
	// Listen, when set, also serves the API on this TCP address (for
	// clients on other machines: LADDER_SERVER). There every request but
	// /healthz needs a valid credential (Auth).
	Listen string
	// CredentialFailures is how many requests with a bad credential one
	// address may send over TCP a minute before it gets 429 for the rest
	// of that minute (0: 20).
	CredentialFailures int
	// TrustedProxies are the reverse proxies in front of Listen (TLS
	// terminators): from them the client's address, which the bound on
	// bad credentials counts by, is read from X-Forwarded-For.
	TrustedProxies []netip.Prefix
}

// ErrStopping is the answer to a request that reaches an engine on its
// way out: ask a new one.
var ErrStopping = errors.New("the engine is stopping")

// running is an environment the engine runs.
type running struct {
	info   EnvInfo
	runner Runner
	cancel context.CancelCauseFunc
}

// Engine runs environments in this process. Start, then Serve.
type Engine struct {
	o      Options
	holder store.Holder
	held   *lease.Held
	ln     net.Listener
	srv    *http.Server
	tcp    *http.Server // the API on Options.Listen, if any
	info   Info

	// life is what the environments run under; Serve cancels it (with
	// the reason) when the engine stops.
	life    context.Context
	endLife context.CancelCauseFunc
	wg      sync.WaitGroup

	startMu sync.Mutex // one environment starts at a time
	mu      sync.Mutex
	envs    map[string]*running
	// starting counts starts under way (an idle engine does not end
	// under one); closing is set once the engine stops taking any.
	starting int
	closing  bool
	idle     chan struct{}
	patterns []string // the routes served
}

// New returns an engine; nothing runs until Start.
func New(o Options) *Engine {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.IdleGrace <= 0 {
		o.IdleGrace = 15 * time.Second
	}
	holder := o.Holder
	if holder == (store.Holder{}) {
		holder = lease.Self()
	}
	life, end := context.WithCancelCause(context.Background())
	return &Engine{o: o, holder: holder, life: life, endLife: end, envs: map[string]*running{}, idle: make(chan struct{}, 1)}
}

// Start takes the engine lease (waiting as Options.Wait says), runs
// TakeOver, then answers on the socket and writes engine.json. When
// another engine keeps the lease the error is a *lease.BusyError.
func (e *Engine) Start(ctx context.Context) error {
	held, err := e.acquire(ctx)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			held.Release()
		}
	}()
	if e.o.TakeOver != nil {
		if err := e.o.TakeOver(held.Context()); err != nil {
			return fmt.Errorf("taking over: %w", err)
		}
	}
	path := SocketPath(e.o.StateDir)
	ln, err := listenSocket(path)
	if err != nil {
		return err
	}
	e.held, e.ln = held, ln
	e.info = Info{PID: e.holder.PID, Holder: e.holder, Socket: path, Started: time.Now().UTC(), Served: e.o.Served}
	h := e.handler()
	// Requests live within the engine's life: a stream of events ends
	// when the engine stops, instead of holding its shutdown.
	base := func(net.Listener) context.Context { return e.life }
	e.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, BaseContext: base}
	go func() { _ = e.srv.Serve(ln) }()
	if e.o.Listen != "" {
		tcp, err := net.Listen("tcp", e.o.Listen)
		if err != nil {
			_ = e.srv.Close()
			return fmt.Errorf("engine API: %w", err)
		}
		e.tcp = &http.Server{Handler: e.credentialed(h), ReadHeaderTimeout: 5 * time.Second, BaseContext: base}
		e.info.URL = "http://" + tcp.Addr().String()
		go func() { _ = e.tcp.Serve(tcp) }()
	}
	if err := statefile.Write(infoPath(e.o.StateDir), e.info); err != nil {
		_ = e.srv.Close()
		return err
	}
	ok = true
	return nil
}

// acquire takes the engine lease. A standby (negative Wait) keeps asking
// until ctx ends, saying once who holds it.
func (e *Engine) acquire(ctx context.Context) (*lease.Held, error) {
	o := e.o.Lease
	if e.o.Wait >= 0 {
		o.Wait = e.o.Wait
		return lease.Acquire(ctx, e.o.Store, lease.EngineName, e.holder, o)
	}
	// Ask once without waiting, to say at once who holds it.
	o.Wait = 0
	for told := false; ; told = true {
		held, err := lease.Acquire(ctx, e.o.Store, lease.EngineName, e.holder, o)
		var busy *lease.BusyError
		if !errors.As(err, &busy) || ctx.Err() != nil {
			return held, err
		}
		if !told && e.o.OnStandby != nil {
			e.o.OnStandby(busy.Lease)
		}
		o.Wait = time.Minute
	}
}

// Info describes the engine and the environments it runs.
func (e *Engine) Info() Info {
	e.mu.Lock()
	defer e.mu.Unlock()
	info := e.info
	for _, r := range e.envs {
		info.Envs = append(info.Envs, r.info)
	}
	sort.Slice(info.Envs, func(i, j int) bool { return info.Envs[i].Env < info.Envs[j].Env })
	return info
}

// Runner is the runner of env while the engine runs it: the routes of
// the engine's API read it in this process instead of through its
// dashboard's HTTP API.
func (e *Engine) Runner(env string) (Runner, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.envs[env]
	if !ok {
		return nil, false
	}
	return r.runner, true
}

// Run starts the environment req names (or returns it when it runs).
func (e *Engine) Run(ctx context.Context, req RunRequest) (EnvInfo, error) {
	e.startMu.Lock()
	defer e.startMu.Unlock()
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return EnvInfo{}, ErrStopping
	}
	if r, ok := e.envs[req.Env]; ok {
		e.mu.Unlock()
		return r.info, nil
	}
	e.starting++
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.starting--
		e.mu.Unlock()
	}()

	r, err := e.o.New(ctx, req)
	if err != nil {
		return EnvInfo{}, err
	}
	fellBack, err := r.Listen()
	if err != nil {
		return EnvInfo{}, err
	}
	rctx, cancel := context.WithCancelCause(e.life)
	info := EnvInfo{Env: req.Env, URL: r.URL(), Started: time.Now().UTC(), FellBack: fellBack}
	e.mu.Lock()
	e.envs[req.Env] = &running{info: info, runner: r, cancel: cancel}
	e.mu.Unlock()
	e.o.Logger.Info("environment started", "env", req.Env, "url", info.URL)
	e.wg.Go(func() {
		err := r.Run(rctx)
		cancel(nil)
		if err != nil {
			e.o.Logger.Error("environment stopped", "env", req.Env, "err", err)
		} else {
			e.o.Logger.Info("environment stopped", "env", req.Env)
		}
		e.mu.Lock()
		delete(e.envs, req.Env)
		e.idleCheckLocked()
		e.mu.Unlock()
	})
	return info, nil
}

// idleCheckLocked ends a background engine that runs nothing and starts
// nothing. e.mu is held.
func (e *Engine) idleCheckLocked() {
	if e.o.Served || len(e.envs) > 0 || e.starting > 0 {
		return
	}
	e.closing = true
	select {
	case e.idle <- struct{}{}:
	default:
	}
}

// Serve runs until ctx ends, the engine loses its lease, or (a background
// engine) its last environment stops; then it stops every environment and
// lets the lease go. A background engine's environments take their sites
// down as they stop; a served engine's leave them running for the engine
// that follows (lease.ErrHandedOver), and so do those of an engine that
// lost its lease (another engine owns them then).
func (e *Engine) Serve(ctx context.Context) error {
	if e.held == nil {
		return errors.New("engine: Start first")
	}
	grace := time.NewTimer(e.o.IdleGrace)
	defer grace.Stop()
	graceC := grace.C
	if e.o.Served {
		graceC = nil
	}
	var err error
	lost := false
	leaseDone := e.held.Context().Done()
wait:
	for {
		select {
		case <-ctx.Done():
			if e.o.Served {
				// A served engine hands its rungs over as they run: the
				// standby or the next engine takes them on; ladder down
				// is what stops them.
				e.endLife(lease.ErrHandedOver)
			} else {
				e.endLife(context.Canceled)
			}
		case <-leaseDone:
			if e.storeLost() {
				// The lease went with the store: no other engine can take
				// the environments over from this one, which keeps them
				// running (each says the store is lost) for `ladder down`.
				e.o.Logger.Error("the store was lost; the environments keep running until taken down")
				leaseDone = nil
				continue wait
			}
			lost = true
			err = fmt.Errorf("the engine lost its lease: %w", context.Cause(e.held.Context()))
			e.endLife(err)
		case <-e.idle:
			e.endLife(context.Canceled)
		case <-graceC:
			graceC = nil
			e.mu.Lock()
			e.idleCheckLocked()
			e.mu.Unlock()
			continue wait
		}
		break
	}
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()
	e.wg.Wait()
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(shut)
	if e.tcp != nil {
		_ = e.tcp.Shutdown(shut)
	}
	removeInfo(e.o.StateDir, e.holder)
	_ = os.Remove(e.info.Socket)
	if !lost {
		e.held.Release()
	}
	return err
}

// storeLost reports whether the store's file was deleted, replaced or
// damaged under the engine.
func (e *Engine) storeLost() bool {
	c, ok := e.o.Store.(store.Checker)
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.Check(ctx)
	return errors.Is(err, store.ErrLost) || errors.Is(err, store.ErrDamaged)
}

// Lost is closed when the engine's lease is lost or released.
func (e *Engine) Lost() <-chan struct{} { return e.held.Context().Done() }

// instanceHeader names the engine's instance on every answer.
const instanceHeader = "Ladder-Instance"

// maxRequest bounds a request body.
const maxRequest = 64 << 10

// Mux is where routes are added: an *http.ServeMux.
type Mux interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// recording is a mux that remembers its patterns, for the test that
// holds them against openapi.yaml.
type recording struct {
	*http.ServeMux
	patterns *[]string
}

func (r recording) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	*r.patterns = append(*r.patterns, pattern)
	r.ServeMux.HandleFunc(pattern, h)
}

//go:embed openapi.yaml
var OpenAPI []byte

func (e *Engine) handler() http.Handler {
	mux := recording{ServeMux: http.NewServeMux(), patterns: &e.patterns}
	mux.HandleFunc("GET /v1/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(OpenAPI)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /v1/engine", func(w http.ResponseWriter, r *http.Request) {
		writeJSONResponse(w, http.StatusOK, e.Info())
	})
	mux.HandleFunc("POST /v1/envs", func(w http.ResponseWriter, r *http.Request) {
		var req RunRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.Env == "" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("a run request is {\"env\": NAME, ...}: %v", err))
			return
		}
		if e.o.Auth != nil {
			p, err := e.Authenticate(r)
			if err != nil {
				writeError(w, http.StatusUnauthorized, err.Error())
				return
			}
			if err := auth.Authorize(p, req.Env, auth.ActionDeploy); err != nil {
				writeError(w, http.StatusForbidden, err.Error())
				return
			}
		}
		// Starting outlives the request: a command that gives up waiting
		// leaves an environment that starts, not half of one.
		info, err := e.Run(context.WithoutCancel(r.Context()), req)
		switch {
		case errors.Is(err, ErrStopping):
			writeError(w, http.StatusServiceUnavailable, err.Error())
		case err != nil:
			writeError(w, http.StatusInternalServerError, err.Error())
		default:
			writeJSONResponse(w, http.StatusOK, info)
		}
	})
	if e.o.Routes != nil {
		e.o.Routes(mux)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(instanceHeader, e.holder.Instance)
		mux.ServeHTTP(w, r)
	})
}

// Credential is the bearer credential a request carries ("" for none).
func Credential(r *http.Request) string {
	cred, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(cred)
}

// Authenticate checks the request's bearer credential.
func (e *Engine) Authenticate(r *http.Request) (auth.Principal, error) {
	if e.o.Auth == nil {
		return auth.Principal{}, errors.Join(errors.New("this engine checks no credentials"), auth.ErrUnauthenticated)
	}
	return e.o.Auth.Authenticate(r.Context(), Credential(r))
}

// credentialed refuses, over TCP, every request but /healthz that lacks a
// valid credential: reads too, unlike the owner-only socket.
// An address that sent too many bad credentials gets 429 for a while
// (failureLimit).
func (e *Engine) credentialed(next http.Handler) http.Handler {
	limit := newFailureLimit(e.o.CredentialFailures)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			addr := clientAddr(r, e.o.TrustedProxies)
			if wait, blocked := limit.blocked(addr); blocked {
				w.Header().Set("Retry-After", retryAfter(wait))
				w.Header().Set(instanceHeader, e.holder.Instance)
				writeError(w, http.StatusTooManyRequests, "too many requests with a bad credential from "+addr+": wait, then send a valid token")
				return
			}
			if _, err := e.Authenticate(r); err != nil {
				limit.failed(addr)
				if _, blocked := limit.blocked(addr); blocked {
					e.o.Logger.Warn("bad credentials: refusing the address for a while", "addr", addr)
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="ladder"`)
				w.Header().Set(instanceHeader, e.holder.Instance)
				writeError(w, http.StatusUnauthorized, err.Error())
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSONResponse(w, status, apiError{Error: msg})
}

func writeJSONResponse(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
