package engine

import (
	"fmt"
	"net/http"
	"net/netip"
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
	e := listeningEngine(t, Options{CredentialFailures: 3})
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

func TestClientAddrBehindTrustedProxies(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")}
	for _, tc := range []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"NoProxiesNamed", "203.0.113.7:4000", []string{"198.51.100.1"}, nil, "203.0.113.7"},
		{"UntrustedPeerCannotChooseItsAddress", "203.0.113.7:4000", []string{"198.51.100.1"}, proxies, "203.0.113.7"},
		{"TrustedProxyNamesItsClient", "10.0.0.5:4000", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"ClientWrittenHopsAreSkipped", "10.0.0.5:4000", []string{"1.2.3.4, 198.51.100.1"}, proxies, "198.51.100.1"},
		{"ChainOfTrustedProxies", "10.0.0.5:4000", []string{"198.51.100.1, 10.0.0.9"}, proxies, "198.51.100.1"},
		{"SeveralHeaders", "10.0.0.5:4000", []string{"1.2.3.4", "198.51.100.2"}, proxies, "198.51.100.2"},
		{"HopWithAPort", "10.0.0.5:4000", []string{"198.51.100.3:5555"}, proxies, "198.51.100.3"},
		{"IPv6Proxy", "[fd00::1]:4000", []string{"2001:db8::7"}, proxies, "2001:db8::7"},
		{"MappedIPv4Proxy", "[::ffff:10.0.0.5]:4000", []string{"198.51.100.4"}, proxies, "198.51.100.4"},
		{"NoHeaderCountsTheProxy", "10.0.0.5:4000", nil, proxies, "10.0.0.5"},
		{"MalformedHopCountsTheProxy", "10.0.0.5:4000", []string{"not-an-address"}, proxies, "10.0.0.5"},
		{"OnlyTrustedHopsCountTheProxy", "10.0.0.5:4000", []string{"10.0.0.8"}, proxies, "10.0.0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.peer, Header: http.Header{}}
			for _, h := range tc.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := clientAddr(r, tc.trusted); got != tc.want {
				t.Errorf("clientAddr = %s, want %s", got, tc.want)
			}
		})
	}
}

// Behind a trusted proxy, one client's bad credentials lock out that
// client, not every client of the proxy.
func TestTCPBoundsBadCredentialsPerClientBehindAProxy(t *testing.T) {
	e := listeningEngine(t, Options{CredentialFailures: 2, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	get := func(client, token string) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.Info().URL+"/v1/engine", nil)
		req.Header.Set("X-Forwarded-For", client)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 2 {
		if code := get("198.51.100.1", "guess"); code != 401 {
			t.Fatalf("a bad credential: %d, want 401", code)
		}
	}
	if code := get("198.51.100.1", "viewer"); code != http.StatusTooManyRequests {
		t.Errorf("the client that guessed, with a valid token: %d, want 429", code)
	}
	if code := get("198.51.100.2", "viewer"); code != 200 {
		t.Errorf("another client of the same proxy: %d, want 200", code)
	}
}

// listeningEngine serves an engine on 127.0.0.1 with o's bound on bad
// credentials, for one token, "viewer" (viewer:*).
func listeningEngine(t *testing.T, o Options) *Engine {
	dir := t.TempDir()
	grants, err := auth.ParseGrants([]string{"viewer:*"})
	if err != nil {
		t.Fatal(err)
	}
	o.StateDir, o.Store, o.New = dir, newStore(t, dir), (&fleet{runners: map[string]*fakeRunner{}}).new
	o.Auth, o.Holder, o.Lease, o.Served = tokens{"viewer": {Name: "v", Grants: grants}}, holder("limit"), fast, true
	o.Listen = "127.0.0.1:0"
	e, _ := serve(t, o)
	return e
}
