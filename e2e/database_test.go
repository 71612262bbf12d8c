package e2e

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// TestDemoDatabase runs the demo with its PostgreSQL database on two
// rungs: local (throwaway data) and prod (real data). The migrate job runs
// on each before users and trades, seed data lands on local only, and a
// rollback puts the previous snapshot's code on the schema a later
// release expanded, where it keeps serving.
func TestDemoDatabase(t *testing.T) {
	p := newProjectOn(t, "compose")
	p.write("ladder.yaml", `stack: compose.yaml
environments:
  local:
    target: compose
    data: throwaway
    dashboard: 127.0.0.1:0
    telemetry: {interval: 1s}
    health: {timeout: 5m}     # initdb on a busy machine
  prod:
    from: local
    target: compose
    data: real
    dashboard: 127.0.0.1:0
    values:
      services:
        web: {ports: {"8080": 0}}
`)
	t.Cleanup(func() { p.run("down", "--env", "prod", "--volumes") })

	up := p.upJSON("-d")
	s1 := up.Snapshot.ID
	local := up.Status
	localDB := site(local).Runtime["project"]
	if got := psql(t, localDB, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"); got != "1,2" {
		t.Errorf("local schema_migrations = %q, want 1,2", got)
	}
	if got := psql(t, localDB, "SELECT (SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM trades)"); got != "20 100" {
		t.Errorf("local users and trades = %q, want the seed's 20 100", got)
	}
	var user struct{ Name string }
	getJSON(t, endpoint(t, local, "users")+"/api/users/1", &user)
	if user.Name != "Radia Perlman" {
		t.Errorf("local user 1 = %q, want the seed's Radia Perlman", user.Name)
	}

	// prod: the same snapshot, migrated, never seeded.
	if res := p.run("promote", s1, "--to", "prod"); res.code != 0 {
		t.Fatalf("promote to prod: %s", res)
	}
	prod := rungStatus(t, p, "prod")
	prodDB := site(prod).Runtime["project"]
	if got := psql(t, prodDB, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"); got != "1,2" {
		t.Errorf("prod schema_migrations = %q, want 1,2", got)
	}
	if got := psql(t, prodDB, "SELECT (SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM trades)"); got != "0 0" {
		t.Errorf("prod users and trades = %q, want no seed rows on real data", got)
	}
	var users []json.RawMessage
	getJSON(t, endpoint(t, prod, "users")+"/api/users", &users)
	if len(users) != 0 {
		t.Errorf("prod users API lists %d users, want none", len(users))
	}
	// On each rung the job had finished before users and trades started.
	for _, project := range []string{localDB, prodDB} {
		finished := containerTime(t, project, "migrate", "{{.State.FinishedAt}}")
		for _, svc := range []string{"users", "trades"} {
			if started := containerTime(t, project, svc, "{{.State.StartedAt}}"); !started.After(finished) {
				t.Errorf("%s: %s started at %s, before migrate finished at %s", project, svc, started, finished)
			}
		}
	}
	// The job ran on both rungs with s1, recorded by ladder.
	for _, env := range []string{"local", "prod"} {
		res := p.run("jobs", env)
		if res.code != 0 || !strings.Contains(res.stdout, "migrate") || !strings.Contains(res.stdout, snapshot.Short(s1)) {
			t.Errorf("ladder jobs %s does not show migrate with %s: %s", env, snapshot.Short(s1), res)
		}
	}

	// A release that expands the schema (a nullable column), then a
	// rollback to s1: its migrate job leaves the newer migration, its code
	// reads and writes the expanded tables.
	p.write("internal/db/migrations/0003_users_country.sql", "ALTER TABLE users ADD COLUMN country text;\n")
	up2 := p.upJSON("-d")
	s2 := up2.Snapshot.ID
	if s2 == s1 {
		t.Fatal("a new migration made no new snapshot")
	}
	if got := psql(t, localDB, "SELECT max(version) FROM schema_migrations"); got != "3" {
		t.Fatalf("after s2, schema version %q, want 3", got)
	}
	placed := placeTrade(t, up2.Status)
	if res := p.run("rollback", "local", "--to", s1, "--why", "test"); res.code != 0 {
		t.Fatalf("rollback to s1: %s", res)
	}
	back := rungStatus(t, p, "local")
	if site(back).Snapshot != s1 {
		t.Fatalf("local runs %s after the rollback, want %s", snapshot.Short(site(back).Snapshot), snapshot.Short(s1))
	}
	if got := psql(t, localDB, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"); got != "1,2,3" {
		t.Errorf("after the rollback schema_migrations = %q, want 1,2,3 (nothing undone)", got)
	}
	var trades []struct {
		ID       int
		Snapshot string
	}
	getJSON(t, endpoint(t, back, "trades")+"/api/trades?user=1", &trades)
	if len(trades) == 0 || trades[0].ID != placed || trades[0].Snapshot != s2 {
		t.Errorf("after the rollback, user 1's newest trade is %+v, want #%d placed by %s", trades, placed, snapshot.Short(s2))
	}
	if again := placeTrade(t, back); again <= placed {
		t.Errorf("s1 placed trade #%d after #%d", again, placed)
	}
	code, body := httpGet(t, endpoint(t, back, "web")+"/users/1")
	if code != http.StatusOK {
		t.Errorf("web /users/1 after the rollback: %d %s", code, body)
	}
}

func site(st api.Status) api.SiteStatus {
	if len(st.Sites) == 0 {
		return api.SiteStatus{}
	}
	return st.Sites[0]
}

func rungStatus(t *testing.T, p *project, env string) api.Status {
	t.Helper()
	res := p.run("status", "--env", env, "-o", "json")
	var st api.Status
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		t.Fatalf("ladder status %s: %v\n%s", env, err, res)
	}
	return st
}

// psql runs one query in the db container of a Compose project and
// returns its unaligned output.
func psql(t *testing.T, project, query string) string {
	t.Helper()
	out, err := exec.Command("docker", "exec", containerOf(t, project, "db"),
		"psql", "-U", "trading", "-d", "trading", "-Atc", query).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", query, err, out)
	}
	return strings.TrimSpace(string(out))
}

// placeTrade buys one AAPL for user 1 through the trades API and returns
// the trade's ID.
func placeTrade(t *testing.T, st api.Status) int {
	t.Helper()
	req, _ := http.NewRequest("POST", endpoint(t, st, "trades")+"/api/trades", strings.NewReader(`{"user":1,"symbol":"AAPL","side":"buy","qty":1}`))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct{ ID int }
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/trades: %d %v", resp.StatusCode, err)
	}
	return tr.ID
}

// containerTime reads a time (format is a docker inspect template) of the
// newest container of service in a Compose project, running or not.
func containerTime(t *testing.T, project, service, format string) time.Time {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--latest", "--filter", "label=com.docker.compose.project="+project,
		"--filter", "label=com.docker.compose.service="+service).Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("no container of %s in %s: %v", service, project, err)
	}
	out, err = exec.Command("docker", "inspect", "--format", format, strings.TrimSpace(string(out))).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", service, err)
	}
	at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("%s %s: %v", service, format, err)
	}
	return at
}
