package engine

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/auth"
)

func TestFailureLimit(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newFailureLimit(3)
	l.now = func() time.Time { return now }
	step := func(d time.Duration) { now = now.Add(d) }
	steps := []struct {
		name    string
		do      func()
		addr    string
		blocked bool
	}{
		{"NoneYet", func() {}, "10.0.0.1", false},
		{"TwoFailures", func() { l.failed("10.0.0.1"); l.failed("10.0.0.1") }, "10.0.0.1", false},
		{"ThirdFailure", func() { l.failed("10.0.0.1") }, "10.0.0.1", true},
		{"OthersUnaffected", func() {}, "10.0.0.2", false},
		{"StillInTheWindow", func() { step(59 * time.Second) }, "10.0.0.1", true},
		{"WindowOver", func() { step(time.Second) }, "10.0.0.1", false},
		{"CountsAgainFromZero", func() { l.failed("10.0.0.1") }, "10.0.0.1", false},
	}
	for _, s := range steps {
		s.do()
		if _, blocked := l.blocked(s.addr); blocked != s.blocked {
			t.Errorf("%s: blocked(%s) = %v, want %v", s.name, s.addr, blocked, s.blocked)
		}
	}
	// The addresses remembered stay bounded, whatever sends.
	for i := range 3 * maxFailureClients {
		l.failed(fmt.Sprintf("10.1.%d.%d", i/256, i%256))
		if i%1000 == 0 {
			step(time.Second)
		}
	}
	if n := len(l.clients); n > maxFailureClients {
		t.Errorf("%d addresses remembered, want at most %d", n, maxFailureClients)
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "1"}, {time.Millisecond, "1"}, {time.Second, "1"}, {1500 * time.Millisecond, "2"}, {time.Minute, "60"}} {
		if got := retryAfter(tc.d); got != tc.want {
			t.Errorf("retryAfter(%v) = %s, want %s", tc.d, got, tc.want)
		}
	}
}

// Over TCP, an address that sent too many bad credentials gets 429 with
// Retry-After, even with a valid token, until its window ends; /healthz
// still answers.
func TestTCPBoundsBadCredentials(t *testing.T) {
	dir := t.TempDir()
	grants, err := auth.ParseGrants([]string{"viewer:*"})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := serve(t, Options{StateDir: dir, Store: newStore(t, dir), New: (&fleet{runners: map[string]*fakeRunner{}}).new,
		Auth: tokens{"viewer": {Name: "v", Grants: grants}}, Holder: holder("limit"), Lease: fast, Served: true,
		Listen: "127.0.0.1:0", CredentialFailures: 3})
	get := func(path, token string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.Info().URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get("/v1/engine", "viewer"); resp.StatusCode != 200 {
		t.Fatalf("a valid token: %d", resp.StatusCode)
	}
	for i, token := range []string{"", "guess-1", "guess-2"} {
		if resp := get("/v1/engine", token); resp.StatusCode != 401 {
			t.Errorf("bad credential %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	for _, token := range []string{"guess-3", "viewer"} {
		resp := get("/v1/engine", token)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("after 3 bad credentials, %q: %d (Retry-After %q), want 429 with Retry-After", token, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if resp := get("/healthz", ""); resp.StatusCode != 200 {
		t.Errorf("/healthz from a refused address: %d", resp.StatusCode)
	}
}
