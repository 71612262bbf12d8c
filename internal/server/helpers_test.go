package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

// fakeSource is a Source whose behaviour each test sets through its func
// fields; a nil field fails loudly rather than pretending to work.
type fakeSource struct {
	StatusFunc   func(ctx context.Context) (*api.Status, error)
	DeployFunc   func(ctx context.Context, req api.DeployRequest) (*api.DeployResult, error)
	ShutdownFunc func(ctx context.Context) error
}

var errUnset = errors.New("fake source: no func set")

func (f *fakeSource) Status(ctx context.Context) (*api.Status, error) {
	if f.StatusFunc == nil {
		return nil, errUnset
	}
	return f.StatusFunc(ctx)
}

func (f *fakeSource) Deploy(ctx context.Context, req api.DeployRequest) (*api.DeployResult, error) {
	if f.DeployFunc == nil {
		return nil, errUnset
	}
	return f.DeployFunc(ctx, req)
}

func (f *fakeSource) Shutdown(ctx context.Context) error {
	if f.ShutdownFunc == nil {
		return errUnset
	}
	return f.ShutdownFunc(ctx)
}

// liveStatus holds a status a test can swap while a handler serves it.
type liveStatus struct {
	mu sync.Mutex
	st *api.Status
}

func (l *liveStatus) get(context.Context) (*api.Status, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st, nil
}

func (l *liveStatus) set(st *api.Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st = st
}

// t0 is the fixed "now" of rendered pages, so golden output is stable.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// Fixture IDs: distinct first 12 digits so short forms can be told apart.
var (
	snapA   = strings.Repeat("a1b2c3d4", 8)
	snapB   = strings.Repeat("5e6f7a8b", 8)
	snapC   = strings.Repeat("c0ffee00", 8)
	digestA = "sha256:" + strings.Repeat("d1", 32)
	digestB = "sha256:" + strings.Repeat("e2", 32)
	digestC = "sha256:" + strings.Repeat("f3", 32)
)

// fixtureStatus is one site running snapA: api is healthy with telemetry,
// worker is still on snapB and restarting, cache has no health check.
func fixtureStatus() *api.Status {
	inst := func(svc, slot, snap string, state plan.State, restarts int) plan.Instance {
		return plan.Instance{Service: svc, Slot: slot, Snapshot: snap, State: state, Restarts: restarts,
			ID: "4242", Started: t0.Add(-time.Hour)}
	}
	var hist []store.Sample
	for i := range 12 {
		hist = append(hist, store.Sample{
			Time: t0.Add(time.Duration(i-12) * 5 * time.Second), Env: "dev", Site: "local",
			Snapshot: snapA, Service: "api",
			RequestRate: 40 + float64(i%4)*5, ErrorRate: 0.002 * float64(i%3), P50: 0.004, P95: 0.010 + 0.002*float64(i%5),
		})
	}
	latest := hist[len(hist)-1]
	return &api.Status{
		Project:     "/home/dev/shop",
		Stack:       "shop",
		Environment: "dev",
		Target:      "process",
		Agent:       api.Agent{PID: 4242, URL: "http://127.0.0.1:7788", Started: t0.Add(-90 * time.Minute)},
		Sites: []api.SiteStatus{{
			Site:     "local",
			Snapshot: snapA,
			Release: &store.Release{ID: 7, Env: "dev", Site: "local", Snapshot: snapA,
				Phase: store.PhaseSucceeded, Started: t0.Add(-3 * time.Minute), Finished: t0.Add(-2 * time.Minute)},
			Services: []api.ServiceStatus{
				{
					Name: "api", Snapshot: snapA, Digest: digestA, Health: "healthy",
					Endpoints: []string{"http://127.0.0.1:8080"},
					Instances: []plan.Instance{inst("api", "1-0a0b0c0d", snapA, plan.StateRunning, 0), inst("api", "2-0a0b0c0d", snapA, plan.StateRunning, 0)},
					Telemetry: &latest, History: hist,
				},
				{
					Name: "worker", Snapshot: snapB, Digest: digestB, Health: "starting",
					Instances: []plan.Instance{inst("worker", "1-11223344", snapB, plan.StateRestarting, 3)},
				},
				{
					Name: "cache", Snapshot: snapA, Digest: digestC, Health: "running",
					Endpoints: []string{"http://127.0.0.1:6379"},
					Instances: []plan.Instance{inst("cache", "1-55667788", snapA, plan.StateRunning, 0)},
				},
			},
		}},
		Events: []store.Event{
			{ID: 1, Time: t0.Add(-4 * time.Minute), Kind: store.EventSnapshotCreated, Env: "dev", Snapshot: snapA, Message: "snapshot created from 3 artifacts"},
			{ID: 2, Time: t0.Add(-3 * time.Minute), Kind: store.EventDeployStarted, Env: "dev", Site: "local", Snapshot: snapA, Message: "deploying"},
			{ID: 3, Time: t0.Add(-2 * time.Minute), Kind: store.EventDeploySucceeded, Env: "dev", Site: "local", Snapshot: snapA, Message: "release #7 succeeded in 41s"},
			{ID: 4, Time: t0.Add(-30 * time.Second), Kind: store.EventRestarted, Env: "dev", Site: "local", Snapshot: snapB, Service: "worker", Message: "exited with code 2; restarting in 4s"},
		},
	}
}

func statusSource(st *api.Status) *fakeSource {
	return &fakeSource{StatusFunc: func(context.Context) (*api.Status, error) { return st, nil }}
}

// Test credentials: testToken is an admin on every environment, named
// testUser; tokens maps the matrix tests' other tokens.
const (
	testToken = "ldr_test_admin"
	testUser  = "tester"
)

// fakeAuth authenticates a fixed set of tokens.
type fakeAuth map[string]auth.Principal

func (f fakeAuth) Authenticate(_ context.Context, cred string) (auth.Principal, error) {
	p, ok := f[cred]
	if !ok {
		return auth.Principal{}, fmt.Errorf("unknown token: %w", auth.ErrUnauthenticated)
	}
	return p, nil
}

var testAuth = fakeAuth{testToken: {Name: testUser, Grants: []auth.Grant{{Role: auth.Admin, Env: auth.AnyEnv}}}}

// testHosts lets httptest's default Host, example.com, through.
var testHosts = []string{"example.com"}

// newTestServer pins the clock and time zone and speeds up the stream.
func newTestServer(src Source, st store.Store) *server {
	s := newServer(Options{Source: src, Store: st, Auth: testAuth, Hosts: testHosts})
	s.now = func() time.Time { return t0 }
	s.loc = time.UTC
	s.pollEvery = 10 * time.Millisecond
	s.heartbeatEvery = 50 * time.Millisecond
	return s
}

// openStore opens a fresh SQLite store in the test's temp directory.
func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ladder.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// putSnapshot records a snapshot with a chosen ID (the store does not
// recompute it), so tests can arrange shared prefixes.
func putSnapshot(t *testing.T, st store.Store, id string, created time.Time) {
	t.Helper()
	s := &snapshot.Snapshot{ID: id, Stack: "shop", StackHash: "h-" + id[:8], Created: created,
		Artifacts: map[string]snapshot.Artifact{"api": {Service: "api", Digest: digestA, Builder: "go", Inputs: "i"}}}
	if _, err := st.PutSnapshot(context.Background(), s); err != nil {
		t.Fatalf("put snapshot: %v", err)
	}
}

func appendEvent(t *testing.T, st store.Store, e store.Event) store.Event {
	t.Helper()
	e, err := st.AppendEvent(context.Background(), e)
	if err != nil {
		t.Fatalf("append event: %v", err)
	}
	return e
}

// remoteHeader, given to do, sets the request's remote address instead.
const remoteHeader = "remote-addr"

// do serves one request and returns the recorded answer. Requests other
// than GET carry testToken unless the headers set Authorization (to ""
// for none).
func do(h http.Handler, method, target, body string, headers ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	req.RemoteAddr = "127.0.0.1:40000" // this machine, unless remoteHeader says otherwise
	if method != http.MethodGet {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == remoteHeader {
			req.RemoteAddr = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decodeJSON checks the answer is indented JSON with the wanted status and
// decodes it into a T.
func decodeAs[T any](t *testing.T, rec *httptest.ResponseRecorder, wantCode int) T {
	t.Helper()
	var v T
	if rec.Code != wantCode {
		t.Fatalf("status = %d, want %d; body:\n%s", rec.Code, wantCode, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	body := rec.Body.String()
	if strings.Contains(body, "\n") && !strings.Contains(body, "\n  ") && len(body) > 3 {
		t.Errorf("JSON is not indented:\n%s", body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, body)
	}
	return v
}

// wantError checks an api.Error answer.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, code int, contains string) api.Error {
	t.Helper()
	e := decodeAs[api.Error](t, rec, code)
	if e.Error == "" || !strings.Contains(e.Error, contains) {
		t.Errorf("error = %q, want it to contain %q", e.Error, contains)
	}
	return e
}

// testLogin returns a one-time login path that opens a session as
// testUser on s.
func testLogin(s *server) string {
	code, _ := s.sessions.newCode(testToken, s.now())
	return "/login?code=" + code
}

// testSession opens a session as testUser on s, with the CSRF token
// "test-csrf" so that rendered pages are stable, and returns its ID.
func testSession(s *server) string {
	id, sess, ok := s.sessions.redeem(strings.TrimPrefix(testLogin(s), "/login?code="), s.now())
	if !ok {
		panic("test login failed")
	}
	sess.csrf = "test-csrf"
	return id
}
