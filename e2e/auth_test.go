package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ladderhq/ladder/internal/browsertest"
)

// localToken reads the project's local admin token, which the first
// ladder command made.
func (p *project) localToken() string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, ".ladder", "admin.token"))
	if err != nil {
		p.t.Fatalf("local admin token: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// as runs ladder with LADDER_TOKEN set to token: another person.
func (p *project) as(token string, args ...string) result {
	p.t.Helper()
	saved := p.env
	p.env = append(slices.Clone(saved), "LADDER_TOKEN="+token)
	defer func() { p.env = saved }()
	return p.run(args...)
}

// createToken makes a token with `ladder token create` and returns its
// secret.
func (p *project) createToken(name string, roles ...string) string {
	p.t.Helper()
	args := []string{"token", "create", name, "-o", "json"}
	for _, r := range roles {
		args = append(args, "--role", r)
	}
	res := p.run(args...)
	var out struct {
		Token string `json:"token"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &out) != nil || !strings.HasPrefix(out.Token, "ldr_") {
		p.t.Fatalf("token create %s: %s", name, res)
	}
	return out.Token
}

// TestTokensAndRoles: the laptop's admin token is made on first use
// (0600), tokens are created, listed without secrets, used through
// LADDER_TOKEN and revoked; a role short of a change is exit code 8; the
// agent's API refuses changes without a valid token, and requests for a
// foreign Host.
func TestTokensAndRoles(t *testing.T) {
	p := newLadderProject(t)
	p.write("ladder.yaml", twoRungs(""))
	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")

	fi, err := os.Stat(filepath.Join(p.dir, ".ladder", "admin.token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	admin := p.localToken()
	res := p.run("whoami", "-o", "json")
	var me struct {
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &me) != nil || !slices.Equal(me.Roles, []string{"admin:*"}) {
		t.Fatalf("whoami: %s", res)
	}

	viewer := p.createToken("Vera", "viewer")
	deployer := p.createToken("dee", "deployer:local")
	if res := p.run("token", "create", "vera", "--role", "viewer"); res.code != 2 || !strings.Contains(res.stderr, "exists") {
		t.Errorf("a second token for vera (names fold case): %s", res)
	}
	res = p.run("token", "list", "-o", "json")
	if res.code != 0 || !strings.Contains(res.stdout, `"vera"`) || !strings.Contains(res.stdout, `"deployer:local"`) {
		t.Errorf("token list: %s", res)
	}
	for _, secret := range []string{admin, viewer, deployer} {
		if strings.Contains(res.stdout+res.stderr, secret) || strings.Contains(res.stdout, secret[4:20]) {
			t.Errorf("token list shows a secret")
		}
	}
	if res := p.as(viewer, "whoami"); res.code != 0 || !strings.HasPrefix(res.stdout, "vera (viewer:*; from LADDER_TOKEN)") {
		t.Errorf("whoami as vera: %s", res)
	}

	// Roles: a viewer may not roll back or manage tokens; a deployer of
	// local may not promote to dev.
	if res := p.as(viewer, "rollback", "dev"); res.code != 8 || !strings.Contains(res.stderr, "vera may not rollback") {
		t.Errorf("rollback by a viewer: %s", res)
	}
	if res := p.as(viewer, "token", "list"); res.code != 8 {
		t.Errorf("token list by a viewer: %s", res)
	}
	if res := p.as(deployer, "promote", up.Snapshot.ID, "--to", "dev"); res.code != 8 || !strings.Contains(res.stderr, "promoter role") {
		t.Errorf("promote by a deployer: %s", res)
	}
	if res := p.as("ldr_nonsense", "whoami"); res.code != 8 {
		t.Errorf("whoami with an unknown token: %s", res)
	}

	// The agent's API: no token, a bad one, a viewer's: refused; the
	// deployer's: allowed.
	post := func(token, host string) int {
		req, _ := http.NewRequest("POST", up.Status.Agent.URL+"/api/v1/deploy", strings.NewReader(`{"snapshot":"`+up.Snapshot.ID+`"}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		name, token, host string
		want              int
	}{
		{"no token", "", "", 401},
		{"unknown token", "ldr_nonsense", "", 401},
		{"viewer", viewer, "", 403},
		{"deployer on a foreign host", deployer, "rebound.example:80", 421},
		{"deployer", deployer, "", 200},
	} {
		if got := post(c.token, c.host); got != c.want {
			t.Errorf("POST /api/v1/deploy, %s: %d, want %d", c.name, got, c.want)
		}
	}

	// A dashboard login link works once.
	res = p.as(deployer, "dashboard", "-o", "json")
	var link struct {
		URL string `json:"url"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &link) != nil || !strings.Contains(link.URL, "/login?code=") {
		t.Fatalf("dashboard: %s", res)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, want := range []int{303, 401} {
		resp, err := noRedirect.Get(link.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("login link, use %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}

	// In a browser, a fresh link opens the ladder page as dee.
	res = p.as(deployer, "dashboard", "-o", "json")
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &link) != nil {
		t.Fatalf("dashboard: %s", res)
	}
	bctx := browsertest.Start(t, 2*time.Minute)
	if err := chromedp.Do(bctx, chromedp.Navigate(link.URL), chromedp.WaitVisible(chromedp.CSS("ol.ladder"))); err != nil {
		t.Fatalf("opening the login link: %v", err)
	}
	if who, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(".who"))); err != nil || !strings.Contains(who, "Signed in as dee") {
		t.Errorf("the ladder page after logging in says %q (%v)", who, err)
	}

	// Revoked, a token stops working at once.
	if res := p.run("token", "revoke", "DEE"); res.code != 0 {
		t.Fatalf("revoke: %s", res)
	}
	if got := post(deployer, ""); got != 401 {
		t.Errorf("deploy with a revoked token: %d, want 401", got)
	}
	if res := p.as(deployer, "whoami"); res.code != 8 {
		t.Errorf("whoami with a revoked token: %s", res)
	}
	// The audit names who did what, and never a secret.
	audit := p.run("audit", "-o", "json")
	if !strings.Contains(audit.stdout, `"token.create"`) || !strings.Contains(audit.stdout, `"actor": "vera"`) || !strings.Contains(audit.stdout, `"denied"`) {
		t.Errorf("audit lacks token changes or vera's refusals:\n%s", audit.stdout)
	}
	for _, secret := range []string{admin, viewer, deployer} {
		if strings.Contains(audit.stdout, secret) {
			t.Error("the audit shows a secret")
		}
	}
}
