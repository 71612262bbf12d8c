package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

const formCT = "application/x-www-form-urlencoded"

// ladderHandler serves f with a dashboard session of testUser on every
// GET that brings no cookie of its own, so pages show their forms (with
// the CSRF token "test-csrf"). Other requests use the bearer token do
// sends.
func ladderHandler(f *fakeLadder) http.Handler {
	s := newTestServer(f, nil)
	id := testSession(s)
	h := s.handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.Header.Get("Cookie") == "" {
			r.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
		}
		h.ServeHTTP(w, r)
	})
}

// ladderRoutes are every route this file adds, with a body that would be
// valid for it.
var ladderRoutes = []struct{ method, path, body, ct string }{
	{"GET", "/api/v1/ladder", "", ""},
	{"POST", "/api/v1/promote", `{"snapshot":"` + snapA + `","to":"staging"}`, "application/json"},
	{"POST", "/api/v1/approve", `{"snapshot":"` + snapA + `","environment":"staging"}`, "application/json"},
	{"POST", "/api/v1/rollback", `{"environment":"staging"}`, "application/json"},
	{"GET", "/ladder", "", ""},
	{"GET", "/ladder?fragment=1", "", ""},
	{"POST", "/ladder/promote", "snapshot=" + snapA + "&to=staging", formCT},
	{"POST", "/ladder/approve", "snapshot=" + snapA + "&environment=staging", formCT},
	{"POST", "/ladder/rollback", "environment=staging", formCT},
}

func TestLadderRoutesNeedLadderSource(t *testing.T) {
	for _, src := range []Source{statusSource(fixtureStatus()), nil} {
		h := newTestServer(src, nil).handler()
		for _, r := range ladderRoutes {
			rec := do(h, r.method, r.path, r.body, "Content-Type", r.ct)
			wantError(t, rec, 404, "this agent does not serve the ladder view")
		}
		if page := do(h, "GET", "/", "").Body.String(); strings.Contains(page, `href="/ladder"`) {
			t.Error("the nav links a ladder page the agent does not serve")
		}
	}
}

func TestLadderJSON(t *testing.T) {
	f := newFakeLadder()
	rec := do(ladderHandler(f), "GET", "/api/v1/ladder", "")
	got := decodeAs[api.Ladder](t, rec, 200)
	if !reflect.DeepEqual(&got, fixtureLadder()) {
		t.Errorf("ladder differs from the source's:\n%+v", got)
	}
	for _, key := range []string{`"environments": [`, `"agentUrl": "http://127.0.0.1:7701"`, `"promotions": [`, `"gates": [`, `"knownGood": true`, `"running": []`, `"requestRate": 120.4`} {
		if !strings.Contains(rec.Body.String(), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	// Empty lists are [], never null.
	f.l = &api.Ladder{Stack: "empty", Environments: []api.LadderEnv{{Name: "dev"}}, Snapshots: []api.SnapshotSummary{{ID: snapA}}}
	body := do(ladderHandler(f), "GET", "/api/v1/ladder", "").Body.String()
	if strings.Contains(body, "null") || !strings.Contains(body, `"sites": []`) || !strings.Contains(body, `"running": []`) {
		t.Errorf("empty lists should encode as []:\n%s", body)
	}
	f.l = &api.Ladder{Stack: "none"}
	if body := do(ladderHandler(f), "GET", "/api/v1/ladder", "").Body.String(); !strings.Contains(body, `"environments": []`) || !strings.Contains(body, `"snapshots": []`) {
		t.Errorf("no environments should encode as []:\n%s", body)
	}
	f.ladderErr = errors.New("store locked")
	wantError(t, do(ladderHandler(f), "GET", "/api/v1/ladder", ""), 500, "store locked")
}

func TestActionsJSON(t *testing.T) {
	f := newFakeLadder()
	h := ladderHandler(f)
	post := func(path, body string) *httptest.ResponseRecorder {
		return do(h, "POST", path, body, "Content-Type", "application/json")
	}

	// Refused by a gate: an answer, not an HTTP error.
	res := decodeAs[api.ActionResult](t, post("/api/v1/promote", `{"snapshot":"`+snapA[:8]+`","to":"staging","why":"nightly"}`), 200)
	if res.OK || !strings.Contains(res.Error, "needs 1 approval(s), has 0") || res.Promotion == nil ||
		res.Promotion.Phase != store.PromotionBlocked || len(res.Promotion.Gates) != 2 || res.Promotion.Gates[1].Passed {
		t.Errorf("refused promotion = %+v", res)
	}
	res = decodeAs[api.ActionResult](t, post("/api/v1/approve", `{"snapshot":"`+snapA+`","environment":"staging","comment":"ok"}`), 200)
	if !res.OK || res.Message != testUser+" approved snapshot "+snapshot.Short(snapA)+" for staging" {
		t.Errorf("approve = %+v", res)
	}
	res = decodeAs[api.ActionResult](t, post("/api/v1/promote", `{"snapshot":"`+snapA[:8]+`","to":"staging"}`), 200)
	if !res.OK || res.Promotion.Phase != store.PromotionSucceeded || !res.Promotion.Gates[1].Passed {
		t.Errorf("promotion = %+v", res)
	}
	res = decodeAs[api.ActionResult](t, post("/api/v1/rollback", `{"environment":"staging"}`), 200)
	if !res.OK || !strings.Contains(res.Message, "rolled back to snapshot "+snapshot.Short(snapB)) {
		t.Errorf("rollback = %+v", res)
	}
	want := []any{
		api.PromoteRequest{Snapshot: snapA[:8], To: "staging", By: testUser, Why: "nightly"},
		api.ApproveRequest{Snapshot: snapA, Env: "staging", By: testUser, Comment: "ok"},
		api.PromoteRequest{Snapshot: snapA[:8], To: "staging", By: testUser},
		api.RollbackRequest{Env: "staging", By: testUser},
	}
	if got := f.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("source calls:\n got %+v\nwant %+v", got, want)
	}

	// The source's errors are classified like the rest of the API.
	wantError(t, post("/api/v1/promote", `{"snapshot":"0000","to":"staging"}`), 404, "not found")
	wantError(t, post("/api/v1/rollback", `{"environment":"qa"}`), 404, "not found")
	f.result = func(any) (*api.ActionResult, error) { return nil, nil }
	wantError(t, post("/api/v1/rollback", `{"environment":"dev"}`), 500, "returned no result")
	f.result = func(any) (*api.ActionResult, error) { return nil, fmt.Errorf("locked: %w", store.ErrConflict) }
	wantError(t, post("/api/v1/approve", `{"snapshot":"abcd","environment":"dev"}`), 409, "locked")
	// A refusal without gates still has a gates list.
	f.result = func(any) (*api.ActionResult, error) {
		return &api.ActionResult{Error: "nope", Promotion: &api.PromotionView{Promotion: store.Promotion{ID: 1}}}, nil
	}
	if body := post("/api/v1/promote", `{"snapshot":"abcd","to":"dev"}`).Body.String(); !strings.Contains(body, `"gates": []`) || !strings.Contains(body, `"ok": false`) {
		t.Errorf("refusal body:\n%s", body)
	}
}

func TestActionsJSONStrictDecoding(t *testing.T) {
	f := newFakeLadder()
	h := ladderHandler(f)
	for _, tc := range []struct{ path, body, want string }{
		{"/api/v1/promote", ``, "empty request body"},
		{"/api/v1/promote", `{"snapshot":`, "malformed"},
		{"/api/v1/promote", `{"snapshot":"abcd","to":"dev","force":true}`, "unknown field"},
		{"/api/v1/promote", `{"snapshot":"abcd","to":"dev"} {}`, "more than one"},
		{"/api/v1/promote", `{"to":"dev"}`, "snapshot is required"},
		{"/api/v1/promote", `{"snapshot":"HEAD~1","to":"dev"}`, "not a snapshot"},
		{"/api/v1/promote", `{"snapshot":"abcd"}`, "to is required"},
		{"/api/v1/promote", `["abcd"]`, "malformed"},
		{"/api/v1/approve", `{"snapshot":"abcd","environment":"dev","by":"x"}`, `"by" is not accepted`},
		{"/api/v1/promote", `{"snapshot":"abcd","to":"dev","by":"x"}`, `"by" is not accepted`},
		{"/api/v1/rollback", `{"environment":"dev","by":"x"}`, `"by" is not accepted`},
		{"/api/v1/approve", `{"snapshot":"abcd"}`, "environment is required"},
		{"/api/v1/approve", `{"snapshot":"abcd","env":"dev"}`, "unknown field"},
		{"/api/v1/rollback", `{}`, "environment is required"},
		{"/api/v1/rollback", `{"environment":"dev","to":"main"}`, "not a snapshot"},
	} {
		wantError(t, do(h, "POST", tc.path, tc.body, "Content-Type", "application/json"), 400, tc.want)
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("malformed requests reached the source: %+v", calls)
	}
	for _, p := range []string{"/api/v1/promote", "/api/v1/approve", "/api/v1/rollback"} {
		wantError(t, do(h, "GET", p, ""), 405, "not allowed")
	}
	wantError(t, do(h, "DELETE", "/api/v1/ladder", ""), 405, "not allowed")
}

// wantFlash checks a form answer: 303 to /ladder with one flash message.
func wantFlash(t *testing.T, rec *httptest.ResponseRecorder, kind, contains string) string {
	t.Helper()
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("status = %d, want 303; body:\n%s", rec.Code, rec.Body)
	}
	u, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || u.Path != "/ladder" || len(u.Query()) != 1 {
		t.Fatalf("Location = %q, want /ladder?%s=...", rec.Header().Get("Location"), kind)
	}
	msg := u.Query().Get(kind)
	if msg == "" || !strings.Contains(msg, contains) {
		t.Errorf("%s flash = %q, want it to contain %q (Location %s)", kind, msg, contains, u)
	}
	return msg
}

func TestActionForms(t *testing.T) {
	f := newFakeLadder()
	h := ladderHandler(f)
	post := func(path string, v url.Values) *httptest.ResponseRecorder {
		return do(h, "POST", path, v.Encode(), "Content-Type", formCT, "Sec-Fetch-Site", "same-origin", "Origin", "http://example.com")
	}
	wantFlash(t, post("/ladder/promote", url.Values{"snapshot": {snapA}, "to": {"staging"}}), "error", "needs 1 approval(s), has 0")
	wantFlash(t, post("/ladder/approve", url.Values{"snapshot": {snapA}, "environment": {"staging"}, "comment": {"LGTM"}}), "ok", testUser+" approved")
	wantFlash(t, post("/ladder/promote", url.Values{"snapshot": {snapA}, "to": {"staging"}}), "ok", "promoted to staging")
	wantFlash(t, post("/ladder/rollback", url.Values{"environment": {"staging"}}), "ok", "staging rolled back to snapshot "+snapshot.Short(snapB))
	want := []any{
		api.PromoteRequest{Snapshot: snapA, To: "staging", By: testUser},
		api.ApproveRequest{Snapshot: snapA, Env: "staging", By: testUser, Comment: "LGTM"},
		api.PromoteRequest{Snapshot: snapA, To: "staging", By: testUser},
		api.RollbackRequest{Env: "staging", By: testUser},
	}
	if got := f.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("source calls:\n got %+v\nwant %+v", got, want)
	}

	// Bad input and failures come back as error flashes, not error pages,
	// and malformed input never reaches the source.
	n := len(f.Calls())
	wantError(t, post("/ladder/approve", url.Values{"snapshot": {snapA}, "environment": {"staging"}, "by": {"mallory"}}), 400, `"by" is not accepted`)
	wantFlash(t, post("/ladder/promote", url.Values{"snapshot": {"<b>"}, "to": {"staging"}}), "error", "not a snapshot")
	wantFlash(t, post("/ladder/rollback", nil), "error", "environment is required")
	if len(f.Calls()) != n {
		t.Error("malformed forms reached the source")
	}
	wantFlash(t, post("/ladder/rollback", url.Values{"environment": {"qa"}}), "error", "rollback failed: environment \"qa\": not found")
	f.result = func(any) (*api.ActionResult, error) { return &api.ActionResult{}, nil }
	wantFlash(t, post("/ladder/promote", url.Values{"snapshot": {snapA}, "to": {"dev"}}), "error", "promote refused")
	f.result = func(any) (*api.ActionResult, error) { return &api.ActionResult{OK: true}, nil }
	wantFlash(t, post("/ladder/promote", url.Values{"snapshot": {snapA}, "to": {"dev"}}), "ok", "promoted "+snapshot.Short(snapA)+" to dev")
	f.result = func(any) (*api.ActionResult, error) { return &api.ActionResult{Error: strings.Repeat("é", 1000)}, nil }
	if msg := wantFlash(t, post("/ladder/rollback", url.Values{"environment": {"dev"}}), "error", "é"); len(msg) > maxFlash+len("…") || !strings.HasSuffix(msg, "…") {
		t.Errorf("a long flash is not clipped: %d bytes", len(msg))
	}
}

func TestActionFormsRefuseCrossOrigin(t *testing.T) {
	f := newFakeLadder()
	h := ladderHandler(f)
	for _, r := range ladderRoutes {
		if r.method != "POST" {
			continue
		}
		wantError(t, do(h, "POST", r.path, r.body, "Content-Type", r.ct, "Sec-Fetch-Site", "cross-site"), 403, "cross-origin")
		wantError(t, do(h, "POST", r.path, r.body, "Content-Type", r.ct, "Origin", "https://evil.example"), 403, "cross-origin")
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("cross-origin requests reached the source: %+v", calls)
	}
}

func TestLadderFlashIsEscaped(t *testing.T) {
	h := ladderHandler(newFakeLadder())
	page := do(h, "GET", "/ladder?error="+url.QueryEscape(`<script>alert("x")</script>`), "").Body.String()
	if strings.Count(page, "<script") != 1 || !strings.Contains(page, `<div class="alert flash" role="alert"><span class="flash-msg">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</span>`) {
		t.Errorf("error flash not shown escaped:\n%s", page)
	}
	frag := do(h, "GET", "/ladder?fragment=1&ok="+url.QueryEscape(`<img src=x onerror=alert(1)> done`), "").Body.String()
	if strings.Contains(frag, "<img") || !strings.Contains(frag, `<div class="flash ok" role="status"><span class="flash-msg">&lt;img src=x onerror=alert(1)&gt; done</span>`) {
		t.Errorf("ok flash not shown escaped:\n%s", frag)
	}
	if page := do(h, "GET", "/ladder", "").Body.String(); strings.Contains(page, "flash") {
		t.Error("a flash banner without a message")
	}
}

// rung returns one environment's column of the page.
func rung(t *testing.T, page, env string) string {
	t.Helper()
	start := strings.Index(page, `id="env-`+env+`" data-env="`+env+`"`)
	if start < 0 {
		t.Fatalf("no column for %s", env)
	}
	end := strings.Index(page[start:], `<li class="rung-arrow"`)
	if end < 0 {
		end = strings.Index(page[start:], "</ol>\n\n")
	}
	return page[start : start+end]
}

func TestLadderPage(t *testing.T) {
	h := ladderHandler(newFakeLadder())
	rec := do(h, "GET", "/ladder", "")
	page := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(rec.Header().Get("Content-Security-Policy"), "form-action 'self'") {
		t.Fatalf("GET /ladder = %d %v", rec.Code, rec.Header())
	}
	// Columns in ladder order.
	order := regexp.MustCompile(`<li class="card rung[^"]*" id="env-(\w+)"`).FindAllStringSubmatch(page, -1)
	var names []string
	for _, m := range order {
		names = append(names, m[1])
	}
	if strings.Join(names, " ") != "local dev staging prod preview" {
		t.Fatalf("rungs = %v", names)
	}
	if n := strings.Count(page, `<li class="rung-arrow" aria-hidden="true">`); n != 4 {
		t.Errorf("%d arrows between 5 rungs", n)
	}
	for env, wants := range map[string][]string{
		"local": {`data-site="local" data-snapshot="` + snapC + `"`, `<a href="http://127.0.0.1:7701"`, `<span class="badge ok">running</span>`, "3.2/s"},
		"dev": {`<li>soak 10s</li>`, `#23 <span class="phase bad">failed</span> of `, "GET /healthz answered 503", `data-promotion="10"`,
			`<span class="badge bad">failed</span>`, "Promote <code>" + snapshot.Short(snapC) + "</code> from local", "to known-good <code title=\"" + snapD + "\">"},
		"staging": {`<span class="tag warn"`, `<li>1 approval(s)</li>`, `data-site="eu" data-snapshot="` + snapB + `"`, `<span class="badge warn">starting</span>`,
			`<span class="err warn" title="error rate">3.1% errors</span>`, `<input type="hidden" name="csrf" value="test-csrf">`, "Promote <code>" + snapshot.Short(snapA) + "</code> from dev",
			`<input type="hidden" name="to" value="staging">`, `<input type="hidden" name="environment" value="staging">`, `<button type="submit" class="btn danger">Roll back</button>`, "known-good <code title=\"" + snapD + "\">"},
		"prod": {`<span class="badge off">not running</span>`, "nothing deployed", `<span class="badge warn">pending</span>`, `data-gate="approvals"`,
			`<li class="fail" data-gate="approvals"><span class="mark" role="img" aria-label="not passed">✗</span>`,
			`<li class="pass" data-gate="signature"><span class="mark" role="img" aria-label="passed">✓</span>`, "has 1 (alice@example.com)", "by carol@example.com",
			"Approve <code>" + snapshot.Short(snapB) + "</code> for prod</label>", "Promote <code>" + snapshot.Short(snapB) + "</code> from staging"},
	} {
		col := rung(t, page, env)
		for _, want := range wants {
			if !strings.Contains(col, want) {
				t.Errorf("%s column lacks %q", env, want)
			}
		}
	}
	local, dev, staging, prod, preview := rung(t, page, "local"), rung(t, page, "dev"), rung(t, page, "staging"), rung(t, page, "prod"), rung(t, page, "preview")
	// A template is instantiated per pull request: it is neither promoted
	// to nor rolled back, and does not claim its previous rung runs nothing.
	if strings.Contains(preview, `class="actions"`) || strings.Contains(preview, "to promote yet") {
		t.Errorf("the template rung offers actions or a note about them:\n%s", preview)
	}
	if strings.Contains(local, "/ladder/promote") || strings.Contains(local, "/ladder/approve") || strings.Contains(dev, "/ladder/approve") {
		t.Error("promote offered without a previous rung, or approval asked without an approvals gate")
	}
	if strings.Contains(prod, "/ladder/rollback") || !strings.Contains(local, "/ladder/rollback") {
		t.Error("roll back is for running rungs only")
	}
	if !strings.Contains(local, "to known-good <code title=\""+snapA+"\">") {
		t.Error("local's rollback does not name the snapshot it returns to")
	}
	if n := strings.Count(staging, "<li data-release="); n != historyLen {
		t.Errorf("staging lists %d releases, want the last %d", n, historyLen)
	}
	if strings.Contains(staging, "data-promotion") || strings.Contains(local, "data-promotion") {
		t.Error("a rung without a pending promotion shows one")
	}
	// Snapshots with where they run.
	snaps := page[strings.Index(page, `<table class="snaps">`):]
	if !strings.Contains(snaps, `<a class="chip" href="#env-staging">staging/us</a>`) || !strings.Contains(snaps, "nowhere") || strings.Count(snaps, "<tr data-snapshot=") != 4 {
		t.Error("recent snapshots table incomplete")
	}
	for _, m := range regexp.MustCompile(`data-snapshot="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if !snapshot.ValidID(m[1]) {
			t.Errorf("data-snapshot=%q is not a full ID", m[1])
		}
	}
	// The shell: nav entry current, script, no meta refresh wiping typed text.
	if !strings.Contains(page, `<a href="/ladder" aria-current="page">Ladder</a>`) || !strings.Contains(page, `<script src="/assets/refresh.js?v=`) || strings.Contains(page, `http-equiv="refresh"`) {
		t.Error("page shell: nav, script or refresh wrong")
	}
	frag := do(h, "GET", "/ladder?fragment=1", "").Body.String()
	if !strings.Contains(page, frag) || strings.Contains(frag, "<main") || !strings.Contains(frag, `<ol class="ladder"`) {
		t.Error("fragment is not the page's main content")
	}
	if dash := do(h, "GET", "/", "").Body.String(); !strings.Contains(dash, `<a href="/ladder">Ladder</a>`) {
		t.Error("dashboard nav lacks the ladder")
	}
}

func TestLadderPageVariants(t *testing.T) {
	f := newFakeLadder()
	// dev already runs what local runs, and is a template.
	f.l.Environments[0].Sites[0].Snapshot = snapA
	f.l.Environments[1].Template = true
	dev := rung(t, do(ladderHandler(f), "GET", "/ladder", "").Body.String(), "dev")
	if strings.Contains(dev, "/ladder/promote") {
		t.Error("a template offers a promotion: templates are instantiated, never promoted to")
	}
	if !strings.Contains(dev, `<span class="tag info"`) {
		t.Error("template badge missing")
	}
	f.l.Environments[1].Template = false
	dev = rung(t, do(ladderHandler(f), "GET", "/ladder", "").Body.String(), "dev")
	if !strings.Contains(dev, `<p class="here" data-snapshot="`+snapA+`">✓`) || strings.Contains(dev, "/ladder/promote") {
		t.Error("dev should say local's snapshot runs there, with nothing to promote")
	}
	// dev mid-rollout: two sites on two snapshots, so staging is offered
	// both, and dev's history names the sites.
	f.l.Environments[1].Sites = append(f.l.Environments[1].Sites, api.LadderSite{Site: "edge", Snapshot: snapD, Health: "drifted"})
	page := do(ladderHandler(f), "GET", "/ladder", "").Body.String()
	dev, staging := rung(t, page, "dev"), rung(t, page, "staging")
	if !strings.Contains(dev, `<span class="badge warn">drifted</span>`) || !strings.Contains(dev, `<span class="muted">local</span><span class="ago">`) {
		t.Error("drifted health or the history's sites missing")
	}
	if strings.Count(staging, `action="/ladder/promote"`) != 2 || strings.Count(staging, `action="/ladder/approve"`) != 2 {
		t.Error("staging should offer both snapshots dev runs")
	}

	// A running rung with no earlier known-good snapshot has nothing to
	// roll back to: no button that could only fail.
	f.l.Environments[0].RollbackTo = ""
	local := rung(t, do(ladderHandler(f), "GET", "/ladder", "").Body.String(), "local")
	if strings.Contains(local, "/ladder/rollback") || strings.Contains(local, "Roll back") || !strings.Contains(local, `<span class="badge ok">running</span>`) {
		t.Errorf("local offers a rollback with nothing to roll back to:\n%s", local)
	}

	f.ladderErr = errors.New("agent <busy>")
	rec := do(ladderHandler(f), "GET", "/ladder?fragment=1", "")
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `<div class="alert" role="alert">Cannot read the ladder: agent &lt;busy&gt;</div>`) {
		t.Errorf("error page = %d\n%s", rec.Code, rec.Body)
	}
}

// TestLadderGolden pins the whole page for a fixed ladder and clock. Run
// with -update after an intended change and review the diff.
func TestLadderGolden(t *testing.T) {
	got := do(ladderHandler(newFakeLadder()), "GET", "/ladder?ok="+url.QueryEscape("snapshot 5e6f7a8b5e6f promoted to staging"), "").Body.Bytes()
	got = regexp.MustCompile(`\?v=[0-9a-f]{12}`).ReplaceAll(got, []byte("?v=VERSION"))
	path := filepath.Join("testdata", "ladder.golden.html")
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
		t.Errorf("ladder page differs from %s (go test -run Golden -update to accept):\n%s", path, firstDiff(string(want), string(got)))
	}
}
