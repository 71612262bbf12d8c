package engine

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

// fakeRunner is an environment that only records how it ended.
type fakeRunner struct {
	env   string
	stop  chan struct{}
	cause chan error // context.Cause when the engine stopped it; nil when taken down
}

func (f *fakeRunner) Listen() (bool, error) { return false, nil }
func (f *fakeRunner) URL() string           { return "http://127.0.0.1:1/" + f.env }
func (f *fakeRunner) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
		f.cause <- context.Cause(ctx)
	case <-f.stop:
		f.cause <- nil
	}
	return nil
}

// fleet makes fake runners and remembers them by environment.
type fleet struct {
	mu      sync.Mutex
	runners map[string]*fakeRunner
	made    int
}

func (fl *fleet) new(_ context.Context, req RunRequest) (Runner, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if req.Env == "broken" {
		return nil, errors.New("broken does not start")
	}
	r := &fakeRunner{env: req.Env, stop: make(chan struct{}), cause: make(chan error, 1)}
	fl.runners[req.Env] = r
	fl.made++
	return r, nil
}

func (fl *fleet) get(env string) *fakeRunner {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.runners[env]
}

var fast = lease.Options{TTL: 400 * time.Millisecond, Every: 50 * time.Millisecond}

func newStore(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(dir, "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func holder(name string) store.Holder { return store.Holder{Host: "test", PID: 1, Instance: name} }

// serve starts an engine and runs Serve in the background; the returned
// channel gives Serve's error.
func serve(t *testing.T, o Options) (*Engine, chan error) {
	t.Helper()
	e := New(o)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Serve(t.Context()) }()
	return e, done
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// A background engine answers on its socket, runs each environment once
// however often it is asked, and ends with its last environment, taking
// its file and socket with it.
func TestBackgroundEngineRunsEnvironmentsAndEndsWithTheLast(t *testing.T) {
	dir := t.TempDir()
	fl := &fleet{runners: map[string]*fakeRunner{}}
	_, done := serve(t, Options{StateDir: dir, Store: newStore(t, dir), New: fl.new, Holder: holder("a"), Lease: fast})

	c, ok := Find(t.Context(), dir)
	if !ok {
		t.Fatal("Find does not find the engine that runs")
	}
	for range 2 {
		for _, env := range []string{"local", "dev"} {
			info, err := c.Run(t.Context(), RunRequest{Env: env})
			if err != nil || info.Env != env || info.URL != "http://127.0.0.1:1/"+env {
				t.Fatalf("run %s: %+v, %v", env, info, err)
			}
		}
	}
	if fl.made != 2 {
		t.Errorf("%d runners made for two environments asked for twice", fl.made)
	}
	info, err := c.Engine(t.Context())
	if err != nil || len(info.Envs) != 2 || info.Envs[0].Env != "dev" || info.Envs[1].Env != "local" || info.Served {
		t.Fatalf("engine info: %+v, %v", info, err)
	}
	if _, err := c.Run(t.Context(), RunRequest{Env: "broken"}); err == nil || !strings.Contains(err.Error(), "broken does not start") {
		t.Errorf("a runner that cannot be made: %v", err)
	}
	if st, err := os.Stat(info.Socket); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("socket %s: %v, %v (want mode 0600)", info.Socket, st, err)
	}

	close(fl.get("local").stop)
	if err := wait(t, fl.get("local").cause, "local to end"); err != nil {
		t.Fatalf("local ended with cause %v, want taken down", err)
	}
	select {
	case err := <-done:
		t.Fatalf("the engine ended with dev still running: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(fl.get("dev").stop)
	if err := wait(t, done, "the engine to end with its last environment"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "engine.json")); !os.IsNotExist(err) {
		t.Errorf("engine.json left behind: %v", err)
	}
	if _, err := os.Stat(info.Socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	if _, ok := Find(t.Context(), dir); ok {
		t.Error("Find finds an engine that ended")
	}
}

// A background engine asked for nothing ends after its grace period; a
// served one stays, and stopping it hands each environment over: they
// stop with lease.ErrHandedOver and leave their sites running.
func TestIdleAndServedEngines(t *testing.T) {
	dir := t.TempDir()
	fl := &fleet{runners: map[string]*fakeRunner{}}
	_, done := serve(t, Options{StateDir: dir, Store: newStore(t, dir), New: fl.new, Holder: holder("idle"), Lease: fast, IdleGrace: 100 * time.Millisecond})
	if err := wait(t, done, "an idle background engine to end"); err != nil {
		t.Fatal(err)
	}

	dir2 := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	e := New(Options{StateDir: dir2, Store: newStore(t, dir2), New: fl.new, Holder: holder("served"), Lease: fast, Served: true, IdleGrace: 50 * time.Millisecond})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.Serve(ctx) }()
	time.Sleep(200 * time.Millisecond)
	if _, err := e.Run(ctx, RunRequest{Env: "prod"}); err != nil {
		t.Fatalf("a served engine past the grace period: %v", err)
	}
	close(fl.get("prod").stop)
	<-fl.get("prod").cause
	time.Sleep(100 * time.Millisecond)
	if _, err := e.Run(ctx, RunRequest{Env: "staging"}); err != nil {
		t.Fatalf("a served engine with no environment left: %v", err)
	}
	cancel()
	if err := wait(t, fl.get("staging").cause, "staging to stop"); !errors.Is(err, lease.ErrHandedOver) {
		t.Errorf("staging stopped with cause %v, want lease.ErrHandedOver (a served engine leaves its sites running)", err)
	}
	if err := wait(t, served, "the served engine to end"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(t.Context(), RunRequest{Env: "late"}); !errors.Is(err, ErrStopping) {
		t.Errorf("run on an engine that ended: %v, want ErrStopping", err)
	}
}

// One engine owns a store: a second one is refused as busy naming the
// first, and a standby takes over once the owner stops renewing (here a
// holder that took the lease once and died), after TakeOver ran.
func TestOneEngineOwnsTheStoreAndAStandbyTakesOver(t *testing.T) {
	dir := t.TempDir()
	st := newStore(t, dir)
	fl := &fleet{runners: map[string]*fakeRunner{}}
	first, done := serve(t, Options{StateDir: dir, Store: st, New: fl.new, Holder: holder("first"), Lease: fast})

	second := New(Options{StateDir: dir, Store: st, New: fl.new, Holder: holder("second"), Lease: fast, Wait: 100 * time.Millisecond})
	var busy *lease.BusyError
	if err := second.Start(t.Context()); !errors.As(err, &busy) || busy.Lease.Holder.Instance != "first" {
		t.Fatalf("a second engine on the store: %v, want busy naming the first", err)
	}
	if _, err := first.Run(t.Context(), RunRequest{Env: "dev"}); err != nil {
		t.Fatal(err)
	}
	close(fl.get("dev").stop)
	if err := wait(t, done, "the first engine to end"); err != nil {
		t.Fatal(err)
	}

	// A holder that took the lease and died: it never renews it.
	dead := holder("dead")
	if _, err := st.AcquireLease(t.Context(), lease.EngineName, dead, time.Now(), fast.TTL); err != nil {
		t.Fatal(err)
	}
	standby := make(chan store.Lease, 1)
	var tookOver time.Time
	began := time.Now()
	third := New(Options{StateDir: dir, Store: st, New: fl.new, Holder: holder("third"), Lease: fast, Wait: -1,
		OnStandby: func(l store.Lease) { standby <- l },
		TakeOver:  func(context.Context) error { tookOver = time.Now(); return nil },
	})
	if err := third.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if l := wait(t, standby, "the standby to say who holds the lease"); l.Holder != dead {
		t.Errorf("standby names %+v, want the dead holder", l.Holder)
	}
	if tookOver.IsZero() || tookOver.Sub(began) < fast.TTL/2 {
		t.Errorf("took over after %v, before the dead holder's lease (TTL %v) lapsed", tookOver.Sub(began), fast.TTL)
	}
	c, ok := Find(t.Context(), dir)
	if !ok || c.Info.Holder.Instance != "third" {
		t.Fatalf("Find after the takeover: %+v, %v", c, ok)
	}
}

// An engine that loses its lease (another holder took it) stops its
// environments with lease.ErrLapsed as the cause, so they leave their
// sites to the new owner, and Serve says why it ended.
func TestLostLeaseStopsEnvironmentsWithoutTakingThemDown(t *testing.T) {
	dir := t.TempDir()
	st := newStore(t, dir)
	fl := &fleet{runners: map[string]*fakeRunner{}}
	e, done := serve(t, Options{StateDir: dir, Store: st, New: fl.new, Holder: holder("a"), Lease: fast, Served: true})
	if _, err := e.Run(t.Context(), RunRequest{Env: "prod"}); err != nil {
		t.Fatal(err)
	}
	l, err := st.GetLease(t.Context(), lease.EngineName)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ReleaseLease(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AcquireLease(t.Context(), lease.EngineName, holder("thief"), time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if cause := wait(t, fl.get("prod").cause, "prod to stop"); !errors.Is(cause, lease.ErrLapsed) {
		t.Errorf("prod stopped with cause %v, want lease.ErrLapsed", cause)
	}
	if err := wait(t, done, "the engine to end"); err == nil || !strings.Contains(err.Error(), "lost its lease") {
		t.Errorf("Serve after losing the lease: %v", err)
	}
	if got, _ := st.GetLease(t.Context(), lease.EngineName); got.Holder.Instance != "thief" {
		t.Errorf("the engine that lost the lease released the new holder's: %+v", got)
	}
}

// A failing TakeOver fails Start and frees the lease.
func TestFailedTakeOverFreesTheLease(t *testing.T) {
	dir := t.TempDir()
	st := newStore(t, dir)
	e := New(Options{StateDir: dir, Store: st, New: (&fleet{}).new, Holder: holder("a"), Lease: fast,
		TakeOver: func(context.Context) error { return errors.New("cannot recover") }})
	if err := e.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "cannot recover") {
		t.Fatalf("Start: %v", err)
	}
	if orphaned, l, err := lease.Orphaned(t.Context(), st, lease.EngineName, time.Now()); err != nil || !orphaned {
		t.Errorf("lease after a failed takeover: %+v orphaned=%v %v", l, orphaned, err)
	}
}

// tokens authenticates fixed credentials.
type tokens map[string]auth.Principal

func (tk tokens) Authenticate(_ context.Context, cred string) (auth.Principal, error) {
	if p, ok := tk[cred]; ok {
		return p, nil
	}
	return auth.Principal{}, auth.ErrUnauthenticated
}

// Running an environment through the socket needs the deployer role on
// it: no credential or an unknown one is 401, a viewer or a deployer of
// another environment 403.
func TestRunNeedsTheDeployerRole(t *testing.T) {
	dir := t.TempDir()
	fl := &fleet{runners: map[string]*fakeRunner{}}
	grant := func(s string) []auth.Grant {
		g, err := auth.ParseGrants([]string{s})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	tk := tokens{
		"viewer":   {Name: "v", Grants: grant("viewer:*")},
		"dev-only": {Name: "d", Grants: grant("deployer:dev")},
		"deployer": {Name: "p", Grants: grant("deployer:prod")},
	}
	_, _ = serve(t, Options{StateDir: dir, Store: newStore(t, dir), New: fl.new, Auth: tk, Holder: holder("a"), Lease: fast, Served: true})
	c, ok := Find(t.Context(), dir)
	if !ok {
		t.Fatal("no engine")
	}
	for _, tc := range []struct {
		token  string
		status int
	}{
		{"", http.StatusUnauthorized},
		{"wrong", http.StatusUnauthorized},
		{"viewer", http.StatusForbidden},
		{"dev-only", http.StatusForbidden},
		{"deployer", 0},
	} {
		c.Token = tc.token
		_, err := c.Run(t.Context(), RunRequest{Env: "prod"})
		var se *StatusError
		switch {
		case tc.status == 0 && err != nil:
			t.Errorf("token %q: %v", tc.token, err)
		case tc.status != 0 && (!errors.As(err, &se) || se.Status != tc.status):
			t.Errorf("token %q: %v, want HTTP %d", tc.token, err, tc.status)
		}
	}
	if fl.made != 1 {
		t.Errorf("%d runners made, want 1 (only the deployer's request)", fl.made)
	}
}

// A request body is bounded and strict.
func TestRunRequestIsChecked(t *testing.T) {
	dir := t.TempDir()
	_, _ = serve(t, Options{StateDir: dir, Store: newStore(t, dir), New: (&fleet{runners: map[string]*fakeRunner{}}).new, Holder: holder("a"), Lease: fast, Served: true})
	c, _ := Find(t.Context(), dir)
	for _, body := range []string{`{}`, `{"env":"x","by":"alice"}`, `{"env":"` + strings.Repeat("x", 70<<10) + `"}`} {
		resp, err := c.http.Post("http://ladder-engine/v1/envs", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("body %.40q: HTTP %d, want 400", body, resp.StatusCode)
		}
	}
}

// A state directory deep enough that its socket path would not fit gets
// a socket of its own under the temporary directory.
func TestSocketPathFits(t *testing.T) {
	short := SocketPath("/tmp/p/.ladder")
	if short != "/tmp/p/.ladder/engine.sock" {
		t.Errorf("short path: %s", short)
	}
	deep := "/" + strings.Repeat("d", 120) + "/.ladder"
	p := SocketPath(deep)
	if len(p) > maxSocketPath || p == SocketPath("/"+strings.Repeat("e", 120)+"/.ladder") {
		t.Errorf("deep path: %s (%d bytes)", p, len(p))
	}
}

// Stopping a background engine takes its environments down (they stop
// with context.Canceled, not a handover).
func TestStoppedBackgroundEngineTakesItsEnvironmentsDown(t *testing.T) {
	dir := t.TempDir()
	fl := &fleet{runners: map[string]*fakeRunner{}}
	ctx, cancel := context.WithCancel(t.Context())
	e := New(Options{StateDir: dir, Store: newStore(t, dir), New: fl.new, Holder: holder("bg"), Lease: fast})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx) }()
	if _, err := e.Run(ctx, RunRequest{Env: "local"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if cause := wait(t, fl.get("local").cause, "local to stop"); !errors.Is(cause, context.Canceled) || errors.Is(cause, lease.ErrHandedOver) {
		t.Errorf("local stopped with cause %v, want context.Canceled", cause)
	}
	if err := wait(t, done, "the engine to end"); err != nil {
		t.Fatal(err)
	}
}

// Over TCP (ladder serve --listen) every request but /healthz needs a
// valid credential, reads too; Dial'd clients send theirs.
func TestTCPNeedsACredential(t *testing.T) {
	dir := t.TempDir()
	grants, err := auth.ParseGrants([]string{"viewer:*"})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := serve(t, Options{StateDir: dir, Store: newStore(t, dir), New: (&fleet{runners: map[string]*fakeRunner{}}).new,
		Auth: tokens{"viewer": {Name: "v", Grants: grants}}, Holder: holder("tcp"), Lease: fast, Served: true, Listen: "127.0.0.1:0"})
	url := e.Info().URL
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("engine URL %q", url)
	}
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", 200},
		{"/v1/engine", "", 401},
		{"/v1/engine", "wrong", 401},
		{"/v1/openapi.yaml", "", 401},
		{"/v1/engine", "viewer", 200},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s with %q: %d, want %d", tc.path, tc.token, resp.StatusCode, tc.want)
		}
		if tc.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s: 401 without WWW-Authenticate", tc.path)
		}
	}
	c, err := Dial(url, "viewer")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := c.Engine(t.Context()); err != nil || info.Holder.Instance != "tcp" {
		t.Errorf("a dialled client: %+v, %v", info, err)
	}
	for _, bad := range []string{"ftp://x", "http://", "http://host/path", "127.0.0.1:80"} {
		if _, err := Dial(bad, "t"); err == nil {
			t.Errorf("Dial(%q) accepted", bad)
		}
	}
}
