package server

import (
	"context"
	"errors"
	"flag"
	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/render"
	"html/template"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// serviceRow returns the table row of one service.
func serviceRow(t *testing.T, page, name string) string {
	t.Helper()
	start := strings.Index(page, `<tr data-service="`+name+`"`)
	if start < 0 {
		t.Fatalf("no row for service %q", name)
	}
	end := strings.Index(page[start:], "</tr>")
	return page[start : start+end]
}

func TestDashboardShowsSnapshots(t *testing.T) {
	h := newTestServer(statusSource(fixtureStatus()), nil).handler()
	rec := do(h, "GET", "/", "")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	page := rec.Body.String()
	short := snapshot.Short(snapA)

	// The site's snapshot, prominent, with the full ID at hand.
	if !strings.Contains(page, `<a class="snap big" href="/events?snapshot=`+snapA+`" data-snapshot="`+snapA+`" title="snapshot `+snapA+`"><code>`+short+`</code></a>`) {
		t.Error("site snapshot is not shown in its short form with the full ID")
	}
	if !strings.Contains(page, `<section class="card site" data-site="local" data-snapshot="`+snapA+`">`) {
		t.Error("site section lacks data-snapshot")
	}
	if !strings.Contains(page, `<div class="release" data-snapshot="`+snapA+`">`) || !strings.Contains(page, `>succeeded</span>`) {
		t.Error("release outcome missing")
	}
	for _, tc := range []struct{ name, snap, health string }{
		{"api", snapA, "healthy"}, {"worker", snapB, "starting"}, {"cache", snapA, "running"},
	} {
		row := serviceRow(t, page, tc.name)
		if !strings.Contains(row, `data-snapshot="`+tc.snap+`"`) || !strings.Contains(row, "<code>"+snapshot.Short(tc.snap)+"</code>") {
			t.Errorf("%s row lacks its snapshot %s:\n%s", tc.name, snapshot.Short(tc.snap), row)
		}
		if !strings.Contains(row, `<span class="badge health `+healthClass(tc.health)+`">`+tc.health+`</span>`) {
			t.Errorf("%s row lacks a %s badge", tc.name, tc.health)
		}
	}
	api := serviceRow(t, page, "api")
	for _, want := range []string{"55/s", "0.40%", "12 ms", `href="http://127.0.0.1:8080"`, "<code class=\"digest\" title=\"" + digestA + "\">" + snapshot.Short(digestA)} {
		if !strings.Contains(api, want) {
			t.Errorf("api row lacks %q:\n%s", want, api)
		}
	}
	if n := strings.Count(api, `<svg `); n != 3 {
		t.Errorf("api row has %d sparklines, want 3", n)
	}
	if !strings.Contains(api, `role="img"`) || !strings.Contains(api, "<title>api p95 latency (ms), last 12 samples</title>") {
		t.Error("api sparklines lack their accessible title")
	}
	// Each sparkline carries its scale: its axis runs from zero to the
	// highest value shown, labelled with the unit.
	scale := regexp.MustCompile(`<g class="sparkline-scale"[^>]*><text[^>]*>([^<]*)</text><text[^>]*>([^<]*)</text></g>`).FindAllStringSubmatch(api, -1)
	var scales []string
	for _, m := range scale {
		scales = append(scales, m[1]+".."+m[2])
	}
	if got := strings.Join(scales, " "); got != "55/s..0/s 0.40%..0% 18 ms..0 ms" {
		t.Errorf("api sparkline scales = %q, want max..0 with units", got)
	}
	worker := serviceRow(t, page, "worker")
	if strings.Contains(worker, "<svg") {
		t.Error("worker has no history but got a sparkline")
	}
	if !strings.Contains(worker, ">differs</span>") || !strings.Contains(worker, `<td class="num warn">3</td>`) {
		t.Errorf("worker row should flag its other snapshot and 3 restarts:\n%s", worker)
	}

	// Events newest first, each tied to its snapshot.
	events := page[strings.Index(page, `<table class="events">`):]
	rows := regexp.MustCompile(`<tr data-event="(\d+)" data-snapshot="([0-9a-f]*)"[^>]*>`).FindAllStringSubmatch(events, -1)
	if len(rows) != 4 || rows[0][1] != "4" || rows[3][1] != "1" || rows[0][2] != snapB {
		t.Errorf("event rows = %v, want 4 newest first", rows)
	}
	if !strings.Contains(events, "<code>"+snapshot.Short(snapB)+"</code>") {
		t.Error("event rows lack short snapshot IDs")
	}
	// Every data-snapshot is a full ID.
	for _, m := range regexp.MustCompile(`data-snapshot="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if !snapshot.ValidID(m[1]) {
			t.Errorf("data-snapshot=%q is not a full ID", m[1])
		}
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
}

func TestDashboardFragment(t *testing.T) {
	h := newTestServer(statusSource(fixtureStatus()), nil).handler()
	full := do(h, "GET", "/", "").Body.String()
	frag := do(h, "GET", "/?fragment=1", "").Body.String()
	if !strings.HasPrefix(full, "<!doctype html>") || !strings.Contains(full, `<main id="content"`) ||
		!strings.Contains(full, `<noscript><meta http-equiv="refresh"`) || !strings.Contains(full, `<script src="/assets/refresh.js?v=`) {
		t.Error("full page lacks its shell, refresh script or noscript fallback")
	}
	for _, bad := range []string{"<html", "<head", "<main", "<script", "<noscript"} {
		if strings.Contains(frag, bad) {
			t.Errorf("fragment contains %s", bad)
		}
	}
	// The fragment is exactly the page's main content.
	if !strings.Contains(full, frag) || !strings.Contains(frag, `<table class="services">`) {
		t.Error("fragment is not the page's main content")
	}
}

func TestDashboardEscapesHostileText(t *testing.T) {
	st := fixtureStatus()
	st.Stack = `<img src=x onerror=alert(1)>`
	st.Sites[0].Site = `"><script>alert('site')</script>`
	svc := &st.Sites[0].Services[0]
	svc.Name = `<script>alert("svc")</script>`
	svc.Endpoints = []string{"javascript:alert(1)"}
	svc.Health = `healthy" onclick="alert(1)`
	st.Events[0].Message = `<script>alert("event")</script>`
	st.Events[0].Service = `</td><script>x</script>`
	page := do(newTestServer(statusSource(st), nil).handler(), "GET", "/", "").Body.String()
	if strings.Count(page, "<script") != 1 { // the page's own refresh.js
		t.Errorf("unescaped script tag in page")
	}
	for _, bad := range []string{"<img src=x", `onclick="alert`, `href="javascript:`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(page, `&lt;script&gt;alert(&#34;event&#34;)&lt;/script&gt;`) {
		t.Error("event message is not shown escaped")
	}
	if !strings.Contains(page, `<span class="badge health off">`) {
		t.Error("an unknown health value must map to a fixed class")
	}
}

func TestDashboardStatusError(t *testing.T) {
	src := &fakeSource{StatusFunc: func(context.Context) (*api.Status, error) { return nil, errors.New("agent <busy>") }}
	rec := do(newTestServer(src, nil).handler(), "GET", "/?fragment=1", "")
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `<div class="alert" role="alert">Cannot read the agent&#39;s status: agent &lt;busy&gt;</div>`) {
		t.Errorf("error page = %d\n%s", rec.Code, rec.Body)
	}
}

func TestEventsPage(t *testing.T) {
	st := openStore(t)
	putSnapshot(t, st, snapB, t0)
	appendEvent(t, st, store.Event{Time: t0, Kind: store.EventDeployStarted, Snapshot: snapA, Message: "first"})
	appendEvent(t, st, store.Event{Time: t0, Kind: store.EventRestarted, Snapshot: snapB, Service: "worker", Message: "second"})
	h := newTestServer(statusSource(fixtureStatus()), st).handler()

	page := do(h, "GET", "/events", "").Body.String()
	if i, j := strings.Index(page, "second"), strings.Index(page, "first"); i < 0 || j < 0 || i > j {
		t.Error("events page should list the store's events newest first")
	}
	if !strings.Contains(page, `aria-current="page">Events`) {
		t.Error("events nav entry not current")
	}
	page = do(h, "GET", "/events?snapshot="+snapB[:8], "").Body.String()
	if strings.Contains(page, "first") || !strings.Contains(page, "second") || !strings.Contains(page, "snapshot "+snapshot.Short(snapB)) {
		t.Error("snapshot filter not applied or not described")
	}
	rec := do(h, "GET", "/events?after=nope", "")
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), `class="alert"`) {
		t.Errorf("bad filter: %d", rec.Code)
	}
	// Every rung shares the store and its deploys look alike from rung
	// to rung: each row says where it happened, and the page can keep to
	// one environment.
	for _, env := range []string{"local", "dev"} {
		appendEvent(t, st, store.Event{Time: t0, Kind: store.EventHealthChanged, Env: env, Site: "default", Snapshot: snapB, Service: "users", Message: "users 1-170dff38 starting -> healthy"})
	}
	page = do(h, "GET", "/events?fragment=1", "").Body.String()
	for _, env := range []string{"local", "dev"} {
		if !strings.Contains(page, `<td class="where"><a href="/events?environment=`+env+`" title="events of `+env+`">`+env+`/default</a></td>`) {
			t.Errorf("the %s event does not say where it happened:\n%s", env, page)
		}
	}
	page = do(h, "GET", "/events?environment=dev", "").Body.String()
	if n := strings.Count(page, "starting -&gt; healthy"); n != 1 || !strings.Contains(page, "environment dev") || strings.Contains(page, "local/default") {
		t.Errorf("the environment filter shows %d health events (want 1, dev's), or is not described", n)
	}
	// Without a store, the status document's events are shown.
	page = do(newTestServer(statusSource(fixtureStatus()), nil).handler(), "GET", "/events?fragment=1", "").Body.String()
	if !strings.Contains(page, "release #7 succeeded") {
		t.Error("events page without a store shows no events")
	}
}

func TestAssets(t *testing.T) {
	h := New(Options{Auth: testAuth, Hosts: testHosts})
	for name, ctype := range map[string]string{"style.css": "text/css", "refresh.js": "text/javascript"} {
		a := assets()[name]
		rec := do(h, "GET", "/assets/"+name+"?v="+a.version, "")
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), ctype) || !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") {
			t.Errorf("%s: %d %v", name, rec.Code, rec.Header())
		}
		if rec := do(h, "GET", "/assets/"+name, "", "If-None-Match", `"`+a.version+`"`); rec.Code != 304 {
			t.Errorf("%s revalidation = %d, want 304", name, rec.Code)
		}
	}
	if rec := do(h, "GET", "/assets/nope.css", ""); rec.Code != 404 {
		t.Errorf("unknown asset = %d", rec.Code)
	}
}

// TestDashboardGolden pins the whole page for a fixed status and clock.
// Run with -update after an intended change and review the diff.
func TestDashboardGolden(t *testing.T) {
	h := newTestServer(statusSource(fixtureStatus()), nil).handler()
	got := do(h, "GET", "/", "").Body.Bytes()
	// The asset versions change with every CSS edit; they are not what
	// this test is about.
	got = regexp.MustCompile(`\?v=[0-9a-f]{12}`).ReplaceAll(got, []byte("?v=VERSION"))
	path := filepath.Join("testdata", "dashboard.golden.html")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("dashboard differs from %s (go test -run Golden -update to accept):\n%s", path, firstDiff(string(want), string(got)))
	}
}

// firstDiff shows the first differing line, enough to see what changed.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n- " + wl + "\n+ " + gl
		}
	}
	return ""
}

func TestDashboardShowsDrift(t *testing.T) {
	st := fixtureStatus()
	h := newTestServer(statusSource(st), nil).handler()
	if body := do(h, "GET", "/", "").Body.String(); strings.Contains(body, `class="drift"`) {
		t.Fatal("a site without drift shows a drift banner")
	}
	site := &st.Sites[0]
	site.Drift = &drift.Report{SiteRef: render.SiteRef{Env: st.Environment, Site: site.Site}, Snapshot: site.Snapshot,
		Services: []drift.ServiceDrift{{Service: "api", Items: []drift.Item{
			{Kind: drift.KindStopped, Instance: "1-abcdef12"},
			{Kind: drift.KindEnv, Instance: "1-abcdef12", Field: "API_TOKEN", Want: drift.Redacted, Have: drift.Redacted},
		}}}}
	body := do(newTestServer(statusSource(st), nil).handler(), "GET", "/?fragment=1", "").Body.String()
	for _, want := range []string{`class="drift"`, "ladder up", `data-service="api"`, "1-abcdef12", "stopped", "env API_TOKEN: want &lt;redacted&gt;, have &lt;redacted&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("drift banner lacks %q", want)
		}
	}
}

// The pages are parsed on first use: each must parse, with the page and
// content templates every render asks for.
func TestPagesParse(t *testing.T) {
	for name, page := range map[string]func() *template.Template{"dashboard": dashboardTmpl, "events": eventsTmpl, "ladder": ladderTmpl} {
		tmpl := page()
		for _, want := range []string{"page", "content"} {
			if tmpl.Lookup(want) == nil {
				t.Errorf("the %s page has no %q template", name, want)
			}
		}
		if page() != tmpl {
			t.Errorf("the %s page is parsed again on its second use", name)
		}
	}
}
