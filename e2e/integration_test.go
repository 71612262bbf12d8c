package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

var demoServices = []string{"notifications", "trades", "users", "web"}

// TestDeploySnapshotTelemetryDashboard is the first integration test the
// product was specified with: deploy a small snapshot to a local target,
// then confirm health signals, telemetry ingestion and the UI's
// correlation to the snapshot ID; then change one service and confirm only
// it is rebuilt and restarted and everything follows the new snapshot.
func TestDeploySnapshotTelemetryDashboard(t *testing.T) {
	for _, kind := range []string{"process", "compose"} {
		t.Run(kind, func(t *testing.T) { testDeploySnapshotTelemetryDashboard(t, kind) })
	}
}

func testDeploySnapshotTelemetryDashboard(t *testing.T, kind string) {
	if kind == "compose" {
		requireDocker(t)
	}
	p := newProjectOn(t, kind)
	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	s1 := up.Snapshot.ID
	if !snapshot.ValidID(s1) {
		t.Fatalf("snapshot ID %q is not a full ID", s1)
	}
	wantBuilt := demoServices
	if kind == "compose" {
		// With the database: the migrate job is built too (db is pulled).
		wantBuilt = []string{"migrate", "notifications", "trades", "users", "web"}
	}
	if got := up.Build.Built; !slices.Equal(got, wantBuilt) {
		t.Errorf("first up built %v, want every service %v", got, wantBuilt)
	}
	st := up.Status
	if st.Target != kind || len(st.Sites) != 1 || st.Sites[0].Snapshot != s1 {
		t.Fatalf("status after up: target %q, sites %+v; want %s running %s", st.Target, st.Sites, kind, snapshot.Short(s1))
	}

	// Health: every service healthy, every instance of snapshot S1.
	for _, name := range demoServices {
		svc, ok := serviceOf(st, name)
		if !ok || svc.Health != "healthy" || svc.Snapshot != s1 || len(svc.Instances) != 1 {
			t.Errorf("%s: %+v, want one healthy instance of %s", name, svc, snapshot.Short(s1))
		}
	}
	// Every instance knows its snapshot.
	for _, name := range demoServices {
		var v struct{ Service, Snapshot, Environment string }
		getJSON(t, endpoint(t, st, name)+"/version", &v)
		if v.Snapshot != s1 || v.Service != name || v.Environment != "local" {
			t.Errorf("%s /version = %+v, want snapshot %s in local", name, v, snapshot.Short(s1))
		}
	}

	// Real traffic through the web frontend and the APIs.
	web := endpoint(t, st, "web")
	if web != fmt.Sprintf("http://127.0.0.1:%d", p.webPort) {
		t.Errorf("web is served on %s, want its published port %d", web, p.webPort)
	}
	sendTraffic(t, st, 3*time.Second)

	// Telemetry ingested for S1, through the CLI and the API.
	agentURL := st.Agent.URL
	eventually(t, 20*time.Second, "telemetry for every service of "+snapshot.Short(s1), func() (bool, string) {
		var got api.Status
		getJSON(t, agentURL+"/api/v1/status", &got)
		for _, name := range demoServices {
			svc, _ := serviceOf(got, name)
			if svc.Telemetry == nil || svc.Telemetry.Snapshot != s1 || svc.Telemetry.RequestRate <= 0 || len(svc.History) == 0 {
				return false, fmt.Sprintf("%s telemetry %+v", name, svc.Telemetry)
			}
		}
		return true, ""
	})
	cliStatus, res := p.status()
	if res.code != 0 {
		t.Fatalf("ladder status: %s", res)
	}
	if svc, _ := serviceOf(cliStatus, "trades"); svc.Telemetry == nil || svc.Telemetry.Snapshot != s1 {
		t.Errorf("ladder status shows trades telemetry %+v, want it tied to %s", svc.Telemetry, snapshot.Short(s1))
	}
	// Events of the release carry the snapshot, the environment and the site.
	var events []store.Event
	getJSON(t, agentURL+"/api/v1/events?snapshot="+s1, &events)
	kinds := map[store.EventKind]bool{}
	for _, e := range events {
		kinds[e.Kind] = true
		if e.Snapshot != s1 || e.Env != "local" || e.Site != "default" {
			t.Errorf("event %+v is not tied to %s on local/default", e, snapshot.Short(s1))
		}
	}
	for _, k := range []store.EventKind{store.EventBuilt, store.EventSnapshotCreated, store.EventDeployStarted, store.EventDeploySucceeded, store.EventHealthChanged} {
		if !kinds[k] {
			t.Errorf("no %s event for %s (have %v)", k, snapshot.Short(s1), kinds)
		}
	}

	// The dashboard correlates everything with S1, in a real browser.
	page := newDashboard(t, agentURL)
	page.waitText(t, snapshot.Short(s1), 10*time.Second)
	page.waitSelector(t, fmt.Sprintf(`[data-snapshot="%s"]`, s1), 5*time.Second)

	// Change one service's code and go up again.
	pids := instancePIDs(st)
	p.appendTo("services/notifications/main.go", "\n// notificationsBuild marks a code change made by the test.\nconst notificationsBuild = 2\n")
	up2 := p.upJSON()
	s2 := up2.Snapshot.ID
	if s2 == s1 {
		t.Fatalf("snapshot did not change after a code change")
	}
	if !slices.Equal(up2.Build.Built, []string{"notifications"}) {
		t.Errorf("second up built %v, want only notifications", up2.Build.Built)
	}
	if !slices.Equal(up2.Deploy.Changed, []string{"notifications"}) {
		t.Errorf("second up changed %v, want only notifications\n%s", up2.Deploy.Changed, up2.Deploy.Plan)
	}
	pids2 := instancePIDs(up2.Status)
	for _, name := range demoServices {
		restarted := pids[name] != pids2[name]
		if restarted != (name == "notifications") {
			t.Errorf("%s: pid %s -> %s; only notifications should restart", name, pids[name], pids2[name])
		}
		svc, _ := serviceOf(up2.Status, name)
		if svc.Snapshot != s2 || svc.Health != "healthy" {
			t.Errorf("%s after the change: snapshot %s health %s, want healthy in %s", name, snapshot.Short(svc.Snapshot), svc.Health, snapshot.Short(s2))
		}
	}
	var v struct{ Snapshot string }
	getJSON(t, endpoint(t, up2.Status, "notifications")+"/version", &v)
	if v.Snapshot != s2 {
		t.Errorf("notifications reports snapshot %s, want %s", snapshot.Short(v.Snapshot), snapshot.Short(s2))
	}
	// The dashboard follows without a reload.
	page.waitText(t, snapshot.Short(s2), 10*time.Second)

	// Nothing changed: no rebuild, no restart, no release.
	up3 := p.upJSON()
	if up3.Snapshot.ID != s2 || len(up3.Build.Built) != 0 || up3.Deploy.Release != 0 {
		t.Errorf("an unchanged up did work: snapshot %s built %v release %d", snapshot.Short(up3.Snapshot.ID), up3.Build.Built, up3.Deploy.Release)
	}
	if !maps(instancePIDs(up3.Status), pids2) {
		t.Errorf("an unchanged up restarted instances: %v -> %v", pids2, instancePIDs(up3.Status))
	}

	// Down stops everything; status then says so with exit code 4.
	if res := p.run("down"); res.code != 0 {
		t.Fatalf("ladder down: %s", res)
	}
	if left := p.leftovers(); len(left) > 0 {
		t.Errorf("instances still running after down: %v", left)
	}
	if _, res := p.status(); res.code != 4 {
		t.Errorf("ladder status after down exited %d, want 4\n%s", res.code, res)
	}
}

func instancePIDs(st api.Status) map[string]string {
	out := map[string]string{}
	for _, site := range st.Sites {
		for _, s := range site.Services {
			for _, in := range s.Instances {
				out[s.Name] += in.ID
			}
		}
	}
	return out
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// sendTraffic exercises every service for about d: pages, API reads and
// trades, which also reach notifications.
func sendTraffic(t *testing.T, st api.Status, d time.Duration) {
	t.Helper()
	web, trades, users := endpoint(t, st, "web"), endpoint(t, st, "trades"), endpoint(t, st, "users")
	notifications := endpoint(t, st, "notifications")
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(d)
	for i := 0; time.Now().Before(deadline) && i < 2000; i++ {
		urls := []string{web + "/", web + "/users/1", users + "/api/users", trades + "/api/quotes", notifications + "/api/notifications?user=1"}
		for _, u := range urls {
			resp, err := c.Get(u)
			if err != nil {
				t.Fatalf("GET %s: %v", u, err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: HTTP %d", u, resp.StatusCode)
			}
		}
		form := url.Values{"user": {"1"}, "symbol": {"AAPL"}, "side": {"buy"}, "qty": {"1"}}
		resp, err := c.Post(web+"/trades", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatalf("placing a trade: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("placing a trade: HTTP %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
