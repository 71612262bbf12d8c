package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/store"
)

// authFixture is a server for environment staging whose tokens live in a
// real store and are checked by the real TokenAuthenticator.
type authFixture struct {
	s      *server
	h      http.Handler
	st     store.Store
	f      *fakeLadder
	tokens map[string]string // by role name, and "other-env", "expired"
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	ctx := t.Context()
	st := openStore(t)
	f := newFakeLadder()
	f.DeployFunc = func(_ context.Context, req api.DeployRequest) (*api.DeployResult, error) {
		return &api.DeployResult{Environment: "staging", Site: "eu", Snapshot: snapA, Release: 1}, nil
	}
	f.ShutdownFunc = func(context.Context) error { return nil }
	s := newServer(Options{Source: f, Store: st, Env: "staging", Auth: &auth.TokenAuthenticator{Store: st}})
	now := time.Now()
	tokens := map[string]string{}
	mk := func(key, name string, g auth.Grant, ttl time.Duration, at time.Time) {
		secret, _, err := auth.NewToken(ctx, st, name, []auth.Grant{g}, ttl, at)
		if err != nil {
			t.Fatal(err)
		}
		tokens[key] = secret
	}
	for _, r := range auth.RoleNames() {
		role, _ := auth.ParseRole(r)
		mk(r, r+"-user", auth.Grant{Role: role, Env: "staging"}, 0, now)
	}
	mk("other-env", "prod-admin", auth.Grant{Role: auth.Admin, Env: "prod"}, 0, now)
	mk("expired", "late", auth.Grant{Role: auth.Admin, Env: auth.AnyEnv}, time.Hour, now.Add(-2*time.Hour))
	return &authFixture{s: s, h: s.handler(), st: st, f: f, tokens: tokens}
}

// req serves one request from this machine, to Host 127.0.0.1, with the
// given headers ("" values are left out).
func (a *authFixture) req(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.Host = "127.0.0.1:7788"
	req.RemoteAddr = "127.0.0.1:50000"
	for i := 0; i+1 < len(headers); i += 2 {
		switch {
		case headers[i] == "Host":
			req.Host = headers[i+1]
		case headers[i+1] == "":
		case headers[i] == remoteHeader:
			req.RemoteAddr = headers[i+1]
		default:
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return rec
}

// mutations are every route that changes something, with a valid body,
// the role it needs on staging and its status when allowed.
var mutations = []struct {
	path, body, ct string
	need           auth.Role
	ok             int
}{
	{"/api/v1/deploy", `{"snapshot":"` + snapA[:8] + `"}`, "application/json", auth.Deployer, 200},
	{"/api/v1/down", "", "", auth.Deployer, 202},
	{"/api/v1/promote", `{"snapshot":"` + snapA[:8] + `","to":"staging"}`, "application/json", auth.Promoter, 200},
	{"/api/v1/rollback", `{"environment":"staging"}`, "application/json", auth.Promoter, 200},
	{"/api/v1/approve", `{"snapshot":"` + snapA + `","environment":"staging"}`, "application/json", auth.Approver, 200},
	{"/ladder/promote", "snapshot=" + snapA + "&to=staging", formCT, auth.Promoter, 303},
	{"/ladder/rollback", "environment=staging", formCT, auth.Promoter, 303},
	{"/ladder/approve", "snapshot=" + snapA + "&environment=staging", formCT, auth.Approver, 303},
	{"/api/v1/login", "", "", auth.Viewer, 200},
}

// TestAuthMatrix sends every mutation with no credential, malformed and
// unknown ones, an expired token, a token for another environment and a
// token of each role: 401 for the first ones, 403 for a role short of
// what the route needs, and the route's own answer otherwise. Only the
// allowed requests reach the source, each as its token's identity.
func TestAuthMatrix(t *testing.T) {
	a := newAuthFixture(t)
	unknown, _ := auth.NewSecret()
	type cred struct {
		name, header string
		role         auth.Role // 0: never allowed
		want         int       // when never allowed
	}
	creds := []cred{
		{"none", "", 0, 401},
		{"not bearer", "Basic dXNlcjpwYXNz", 0, 401},
		{"empty bearer", "Bearer ", 0, 401},
		{"not a ladder token", "Bearer abc", 0, 401},
		{"unknown token", "Bearer " + unknown, 0, 401},
		{"expired token", "Bearer " + a.tokens["expired"], 0, 401},
		{"other environment", "Bearer " + a.tokens["other-env"], 0, 403},
	}
	for _, r := range auth.RoleNames() {
		role, _ := auth.ParseRole(r)
		creds = append(creds, cred{r, "Bearer " + a.tokens[r], role, 0})
	}
	for _, m := range mutations {
		for _, c := range creds {
			before := len(a.f.Calls())
			rec := a.req("POST", m.path, m.body, "Content-Type", m.ct, "Authorization", c.header)
			want := c.want
			if c.role != 0 {
				want = 403
				if c.role >= m.need {
					want = m.ok
				}
			}
			if rec.Code != want {
				t.Errorf("POST %s with %s: %d, want %d\n%s", m.path, c.name, rec.Code, want, rec.Body)
				continue
			}
			if want == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("POST %s with %s: 401 without WWW-Authenticate", m.path, c.name)
			}
			for _, secret := range a.tokens {
				if strings.Contains(rec.Body.String(), secret) || strings.Contains(rec.Header().Get("Location"), secret) {
					t.Errorf("POST %s with %s: the answer shows a token", m.path, c.name)
				}
			}
			calls := a.f.Calls()[before:]
			if want != m.ok && len(calls) != 0 {
				t.Errorf("POST %s with %s (%d) reached the source: %+v", m.path, c.name, want, calls)
			}
			if want == m.ok && strings.Contains(m.path, "promote") && (len(calls) != 1 || calls[0].(api.PromoteRequest).By != c.name+"-user") {
				t.Errorf("POST %s with %s: source calls %+v, want one by %s-user", m.path, c.name, calls, c.name)
			}
		}
	}
	denied, err := a.st.ListAudit(t.Context(), store.AuditFilter{Actor: "viewer-user"})
	if err != nil {
		t.Fatal(err)
	}
	if len(denied) == 0 || denied[0].Outcome != "denied" {
		t.Errorf("refusals of a known identity are not audited: %+v", denied)
	}
}

// TestAuthReads: reads are open from this machine, and need a viewer of
// the environment from elsewhere.
func TestAuthReads(t *testing.T) {
	a := newAuthFixture(t)
	a.f.StatusFunc = func(context.Context) (*api.Status, error) { return fixtureStatus(), nil }
	remote := []string{remoteHeader, "192.0.2.7:40000"}
	for _, path := range []string{"/api/v1/status", "/api/v1/ladder", "/ladder", "/"} {
		if rec := a.req("GET", path, ""); rec.Code != 200 {
			t.Errorf("GET %s from this machine: %d", path, rec.Code)
		}
		if rec := a.req("GET", path, "", remote...); rec.Code != 401 {
			t.Errorf("GET %s from elsewhere without a token: %d, want 401", path, rec.Code)
		}
		if rec := a.req("GET", path, "", append(remote, "Authorization", "Bearer "+a.tokens["other-env"])...); rec.Code != 403 {
			t.Errorf("GET %s from elsewhere by another environment's admin: %d, want 403", path, rec.Code)
		}
		if rec := a.req("GET", path, "", append(remote, "Authorization", "Bearer "+a.tokens["viewer"])...); rec.Code != 200 {
			t.Errorf("GET %s from elsewhere by a viewer: %d, want 200", path, rec.Code)
		}
	}
	for _, path := range []string{"/healthz", "/assets/style.css"} {
		if rec := a.req("GET", path, "", remote...); rec.Code != 200 {
			t.Errorf("GET %s from elsewhere: %d, want 200", path, rec.Code)
		}
	}
	// A bad credential on a read is an error, not an anonymous read.
	if rec := a.req("GET", "/api/v1/status", "", "Authorization", "Bearer ldr_nope"); rec.Code != 401 {
		t.Errorf("GET with a bad token: %d, want 401", rec.Code)
	}
}

// TestHostCheck: only loopback names and configured ones are answered.
func TestHostCheck(t *testing.T) {
	a := newAuthFixture(t)
	a.f.StatusFunc = func(context.Context) (*api.Status, error) { return fixtureStatus(), nil }
	a.s.hosts = []string{"ladder.internal"}
	a.h = a.s.handler()
	admin := "Bearer " + a.tokens["admin"]
	for host, want := range map[string]int{
		"127.0.0.1:7788":         200,
		"localhost:7788":         200,
		"LOCALHOST.":             200,
		"app.localhost:7788":     200,
		"[::1]:7788":             200,
		"127.9.9.9":              200,
		"ladder.internal:7788":   200,
		"evil.example:7788":      421,
		"evil.example":           421,
		"127.0.0.1.evil.example": 421,
		"10.0.0.1:7788":          421,
		"localhost.evil.example": 421,
		"":                       421,
	} {
		if rec := a.req("GET", "/api/v1/status", "", "Host", host); rec.Code != want {
			t.Errorf("GET with Host %q: %d, want %d", host, rec.Code, want)
		}
		if want == 421 {
			rec := a.req("POST", "/api/v1/rollback", `{"environment":"staging"}`, "Host", host, "Authorization", admin, "Content-Type", "application/json")
			if rec.Code != 421 {
				t.Errorf("POST with Host %q: %d, want 421", host, rec.Code)
			}
		}
	}
	if calls := a.f.Calls(); len(calls) != 0 {
		t.Errorf("misdirected requests reached the source: %+v", calls)
	}
}

// TestDashboardSession: a one-time link opens an HttpOnly, SameSite=Strict
// session; its changes need the CSRF token and are made as the link's
// identity; the link works once; a session cannot mint more links.
func TestDashboardSession(t *testing.T) {
	a := newAuthFixture(t)
	rec := a.req("POST", "/api/v1/login", "", "Authorization", "Bearer "+a.tokens["approver"])
	link := decodeAs[loginAnswer](t, rec, 200)
	if !strings.HasPrefix(link.URL, "/login?code=") {
		t.Fatalf("login link %q", link.URL)
	}
	rec = a.req("GET", link.URL, "")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/ladder" {
		t.Fatalf("login: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != sessionCookie || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie = %+v", cookies)
	}
	cookie := sessionCookie + "=" + cookies[0].Value
	if rec := a.req("GET", link.URL, ""); rec.Code != 401 {
		t.Errorf("a login link worked twice: %d", rec.Code)
	}
	if rec := a.req("GET", "/login?code=made-up", ""); rec.Code != 401 {
		t.Errorf("a made-up code: %d", rec.Code)
	}

	page := a.req("GET", "/ladder", "", "Cookie", cookie).Body.String()
	if !strings.Contains(page, `data-user="approver-user"`) {
		t.Error("the page does not say who is logged in")
	}
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		t.Fatal("the page's forms carry no CSRF token")
	}
	csrf := page[i+len(`name="csrf" value="`):]
	csrf = csrf[:strings.IndexByte(csrf, '"')]

	form := url.Values{"snapshot": {snapA}, "environment": {"staging"}, "comment": {"fine"}}
	post := func(v url.Values, headers ...string) *httptest.ResponseRecorder {
		return a.req("POST", "/ladder/approve", v.Encode(), append([]string{"Content-Type", formCT, "Cookie", cookie}, headers...)...)
	}
	if rec := post(form); rec.Code != 403 || !strings.Contains(rec.Body.String(), "CSRF") {
		t.Errorf("a form without the CSRF token: %d %s", rec.Code, rec.Body)
	}
	bad := url.Values{"csrf": {"x" + csrf}}
	for k, v := range form {
		bad[k] = v
	}
	if rec := post(bad); rec.Code != 403 {
		t.Errorf("a form with a wrong CSRF token: %d", rec.Code)
	}
	if n := len(a.f.Calls()); n != 0 {
		t.Fatalf("forms without the CSRF token reached the source (%d calls)", n)
	}
	good := url.Values{"csrf": {csrf}}
	for k, v := range form {
		good[k] = v
	}
	if rec := post(good); rec.Code != http.StatusSeeOther || !strings.Contains(rec.Header().Get("Location"), "approver-user+approved") {
		t.Errorf("a form with the CSRF token: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	// A fetch sends the token as a header.
	rec = a.req("POST", "/api/v1/rollback", `{"environment":"staging"}`, "Content-Type", "application/json", "Cookie", cookie, csrfHeader, csrf)
	if rec.Code != 200 {
		t.Errorf("a fetch with the CSRF header: %d %s", rec.Code, rec.Body)
	}
	if rec := a.req("POST", "/api/v1/rollback", `{"environment":"staging"}`, "Content-Type", "application/json", "Cookie", cookie); rec.Code != 403 {
		t.Errorf("a fetch without the CSRF header: %d", rec.Code)
	}
	if rec := a.req("POST", "/api/v1/login", "", "Cookie", cookie, csrfHeader, csrf); rec.Code != 401 {
		t.Errorf("a session minted a login link: %d", rec.Code)
	}
	want := []any{
		api.ApproveRequest{Snapshot: snapA, Env: "staging", By: "approver-user", Comment: "fine"},
		api.RollbackRequest{Env: "staging", By: "approver-user"},
	}
	if got := a.f.Calls(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("source calls %+v, want %+v", got, want)
	}

	// Revoking the token ends its sessions.
	if err := a.st.RevokeToken(t.Context(), "approver-user"); err != nil {
		t.Fatal(err)
	}
	if rec := post(good); rec.Code != 401 {
		t.Errorf("a session of a revoked token: %d", rec.Code)
	}
	// Reads with it are anonymous: the page shows, read only.
	page = a.req("GET", "/ladder", "", "Cookie", cookie).Body.String()
	if !strings.Contains(page, "Read only") || strings.Contains(page, `name="csrf"`) {
		t.Error("a page read with an ended session is not read only")
	}
	if rec := a.req("GET", "/ladder", "", "Cookie", sessionCookie+"=gone"); rec.Code != 200 {
		t.Errorf("a page read with an unknown session: %d", rec.Code)
	}
}
