package server

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/browsertest"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// TestBrowserLadder drives the ladder page in a real headless Chromium the
// way a person would: it reads the rungs, tries to promote to staging
// (refused: staging needs an approval, and the page says so), approves,
// promotes again (the page shows the action working, then the new
// snapshot on staging), and rolls staging back. The fake source must have
// received exactly those actions.
func TestBrowserLadder(t *testing.T) {
	f := newFakeLadder()
	s := newTestServer(f, nil)
	srv := httptest.NewServer(s.handler())
	t.Cleanup(srv.Close) // after the browser stops (cleanups run last first)
	bctx := browsertest.Start(t, 90*time.Second)

	eval := func(expr string) any {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[any](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	text := func(sel string) string {
		t.Helper()
		return eval(`(document.querySelector(` + jsString(sel) + `) || {innerText: ""}).innerText`).(string)
	}
	// waitFor polls expr across page loads (a form post navigates, so the
	// page being evaluated may go away mid-poll).
	waitFor := func(what, expr string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(bctx, time.Second)
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
			cancel()
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s (last error %v); page:\n%s", what, err, text("main"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	click := func(sel string) {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	sitesOf := func(env string) []string {
		t.Helper()
		var out []string
		raw := eval(`JSON.stringify([...document.querySelectorAll('#env-` + env + ` .rung-sites li[data-site]')].map(li => li.dataset.snapshot || ""))`).(string)
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}

	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+testLogin(s)), chromedp.WaitVisible(chromedp.CSS("ol.ladder"))); err != nil {
		t.Fatalf("load ladder: %v", err)
	}

	// The rungs are columns, left to right in ladder order, on one row.
	var rungs []struct {
		Env                      string
		Left, Top, Bottom, Width float64
	}
	raw := eval(`JSON.stringify([...document.querySelectorAll('.rung')].map(r => { const b = r.getBoundingClientRect();
		return {Env: r.dataset.env, Left: b.left, Top: b.top, Width: b.width}; }))`).(string)
	if err := json.Unmarshal([]byte(raw), &rungs); err != nil {
		t.Fatal(err)
	}
	var order []string
	for i, r := range rungs {
		order = append(order, r.Env)
		if r.Width < 230 {
			t.Errorf("rung %s is %.0fpx wide", r.Env, r.Width)
		}
		if i > 0 && (r.Left <= rungs[i-1].Left+rungs[i-1].Width || r.Top != rungs[0].Top) {
			t.Errorf("rung %s is not right of %s on the same row: %+v", r.Env, rungs[i-1].Env, rungs)
		}
	}
	if strings.Join(order, " ") != "local dev staging prod preview" {
		t.Fatalf("rungs = %v", order)
	}
	// At 1400x900 all five columns, the fifth's right edge included, are
	// on the page, and the list does not need scrolling to show them.
	for _, size := range [][2]int64{{1400, 900}, {1280, 800}} {
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(size[0], size[1])); err != nil {
			t.Fatal(err)
		}
		var fit struct {
			Viewport, ListRight, ScrollWidth, ClientWidth float64
			Rungs                                         []struct {
				Env         string
				Left, Right float64
			}
		}
		raw := eval(`JSON.stringify({Viewport: document.documentElement.clientWidth,
			ListRight: document.querySelector('ol.ladder').getBoundingClientRect().right,
			ScrollWidth: document.querySelector('ol.ladder').scrollWidth, ClientWidth: document.querySelector('ol.ladder').clientWidth,
			Rungs: [...document.querySelectorAll('.rung')].map(r => { const b = r.getBoundingClientRect(); return {Env: r.dataset.env, Left: b.left, Right: b.right}; })})`).(string)
		if err := json.Unmarshal([]byte(raw), &fit); err != nil {
			t.Fatal(err)
		}
		if fit.ScrollWidth > fit.ClientWidth {
			t.Errorf("%dpx: the ladder overflows its list (%.0f > %.0f px): columns are cut off", size[0], fit.ScrollWidth, fit.ClientWidth)
		}
		for i, r := range fit.Rungs {
			if r.Left < 0 || r.Right > fit.ListRight || r.Right > fit.Viewport || r.Right-r.Left < 190 {
				t.Errorf("%dpx: rung %s spans %.0f..%.0f px, outside the list (right edge %.0f) or the viewport (%.0f)", size[0], r.Env, r.Left, r.Right, fit.ListRight, fit.Viewport)
			}
			if i > 0 && r.Left <= fit.Rungs[i-1].Right {
				t.Errorf("%dpx: rung %s overlaps %s", size[0], r.Env, fit.Rungs[i-1].Env)
			}
		}
		// Nothing inside a column runs past its edge (and out of sight).
		if over := eval(`JSON.stringify([...document.querySelectorAll('.rung')].flatMap(r => { const edge = r.getBoundingClientRect().right + 1;
			return [...r.querySelectorAll('*')].filter(el => el.getClientRects().length && el.getBoundingClientRect().right > edge)
				.map(el => r.dataset.env + ': ' + el.tagName.toLowerCase() + '.' + el.className + ' "' + el.textContent.trim().slice(0, 30) + '"'); }))`).(string); over != "[]" {
			t.Errorf("%dpx: content past its column's edge: %s", size[0], over)
		}
	}
	// Six rungs do not fit in 1280px: the list scrolls sideways, and the
	// last column can be scrolled fully into view.
	eval(`(() => { const ol = document.querySelector('ol.ladder'), last = ol.querySelector('.rung:last-child');
		ol.appendChild(document.createElement('li')).className = 'rung-arrow';
		const extra = last.cloneNode(true); extra.dataset.env = 'extra'; extra.id = 'env-extra'; ol.appendChild(extra); })()`)
	var scrolled struct {
		Overflows        bool
		Right, ListRight float64
	}
	raw = eval(`(() => { const ol = document.querySelector('ol.ladder'), extra = document.getElementById('env-extra');
		const overflows = ol.scrollWidth > ol.clientWidth; extra.scrollIntoView({inline: 'end', block: 'nearest'});
		return JSON.stringify({Overflows: overflows, Right: extra.getBoundingClientRect().right, ListRight: ol.getBoundingClientRect().right}); })()`).(string)
	if err := json.Unmarshal([]byte(raw), &scrolled); err != nil {
		t.Fatal(err)
	}
	if !scrolled.Overflows || scrolled.Right > scrolled.ListRight+1 {
		t.Errorf("six rungs at 1280px: %+v, want the list to scroll and the last column to come fully into view", scrolled)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/ladder"), chromedp.WaitVisible(chromedp.CSS("ol.ladder"))); err != nil {
		t.Fatalf("reload ladder: %v", err)
	}
	if r := eval(`getComputedStyle(document.querySelector('.rung')).borderTopLeftRadius`); r != "10px" {
		t.Errorf("stylesheet not applied: rung radius %v", r)
	}
	for _, e := range fixtureLadder().Environments {
		var want []string
		for _, s := range e.Sites {
			want = append(want, s.Snapshot)
			if s.Snapshot != "" && !strings.Contains(text(`#env-`+e.Name+` li[data-site="`+s.Site+`"]`), snapshot.Short(s.Snapshot)) {
				t.Errorf("%s/%s does not show snapshot %s", e.Name, s.Site, snapshot.Short(s.Snapshot))
			}
		}
		if got := sitesOf(e.Name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s sites run %v, want %v", e.Name, got, want)
		}
	}
	shoot(t, bctx, "ladder.png", false)
	shoot(t, bctx, "ladder-dark.png", true)

	// 1. Promote dev's snapshot to staging: refused, staging needs an approval.
	promote := "#env-staging form.promote button"
	if b := strings.Join(strings.Fields(text(promote)), " "); b != "Promote "+snapshot.Short(snapA)+" from dev" {
		t.Errorf("promote button = %q", b)
	}
	click(promote)
	waitFor("refusal shown", `location.search.startsWith('?error=') && document.querySelector('.alert.flash')`)
	if msg := text(".alert.flash"); !strings.Contains(msg, "needs 1 approval(s), has 0") {
		t.Errorf("refusal banner = %q", msg)
	}
	if g := text(`#env-staging .gate-results li.fail[data-gate="approvals"]`); !strings.Contains(g, "✗") || !strings.Contains(g, "needs 1 approval(s)") {
		t.Errorf("staging's blocked gate = %q", g)
	}
	if p := text("#env-staging .promo"); !strings.Contains(p, "blocked") || !strings.Contains(p, "✓") {
		t.Errorf("staging's promotion = %q", p)
	}
	// The page's live refresh keeps the approve button (it did not
	// change): the node found is still the one on the page two refreshes
	// later, so a click cannot land on a node the refresh threw away.
	eval(`window.__approve = document.querySelector('#env-staging form.approve button');
		window.__fetched = performance.getEntriesByType('resource').filter(e => e.name.includes('fragment=1')).length`)
	waitFor("two refreshes", `performance.getEntriesByType('resource').filter(e => e.name.includes('fragment=1')).length >= window.__fetched + 2`)
	if same := eval(`document.querySelector('#env-staging form.approve button') === window.__approve`); same != true {
		t.Error("a refresh replaced the approve button, which did not change")
	}
	shoot(t, bctx, "ladder-blocked.png", false)
	shoot(t, bctx, "ladder-blocked-dark.png", true)

	// 2. Approve, as the logged-in user: the form asks for no identity.
	if n := eval(`document.querySelectorAll('#env-staging form.approve input[name="by"]').length`); n != float64(0) {
		t.Error("the approve form asks for an identity")
	}
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#env-staging form.approve input[name="comment"]`), "smoke passed"),
	); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // a refresh tick must not wipe what was typed
	if v := eval(`document.querySelector('#env-staging form.approve input[name="comment"]').value`); v != "smoke passed" {
		t.Errorf("typed comment became %q", v)
	}
	click("#env-staging form.approve button")
	waitFor("approval shown", `document.querySelector('.flash.ok') && document.querySelector('.flash.ok').innerText.includes('tester approved')`)

	// 3. Promote again, the source held for a moment: the form shows it
	// is working. (The browser answers no DevTools evaluation while a form
	// post is pending, so the page notes what it looked like in
	// sessionStorage, which outlives the navigation.)
	eval(`document.addEventListener('submit', () => setTimeout(() => {
		const form = document.querySelector('#env-staging form.promote');
		sessionStorage.setItem('busy', JSON.stringify({
			Busy: form.classList.contains('busy') && form.getAttribute('aria-busy') === 'true',
			Acting: document.querySelector('main').classList.contains('acting'),
			Spinner: getComputedStyle(form.querySelector('button'), '::after').animationName,
			Others: getComputedStyle(document.querySelector('#env-local form.rollback button')).pointerEvents,
		}));
	}, 300))`)
	release := f.setHold()
	defer release()
	time.AfterFunc(1500*time.Millisecond, release)
	click(promote)
	waitFor("promotion shown", `document.querySelector('.flash.ok') && document.querySelector('.flash.ok').innerText.includes('promoted to staging')`)
	var busy struct {
		Busy, Acting    bool
		Spinner, Others string
	}
	if err := json.Unmarshal([]byte(eval(`sessionStorage.getItem('busy') || "{}"`).(string)), &busy); err != nil {
		t.Fatal(err)
	}
	if !busy.Busy || !busy.Acting || busy.Spinner != "spin" || busy.Others != "none" {
		t.Errorf("while the promotion ran the page showed %+v, want the form busy with a spinner and other actions disabled", busy)
	}
	if got := sitesOf("staging"); !reflect.DeepEqual(got, []string{snapA, snapA}) {
		t.Errorf("staging runs %v after the promotion, want %s on both sites", got, snapshot.Short(snapA))
	}
	if h := text("#env-staging .here"); !strings.Contains(h, snapshot.Short(snapA)) {
		t.Errorf("staging should say dev's snapshot runs there: %q", h)
	}
	shoot(t, bctx, "ladder-promoted.png", false)

	// 4. Roll staging back to its last known-good.
	click("#env-staging form.rollback button")
	waitFor("rollback shown", `document.querySelector('.flash.ok') && document.querySelector('.flash.ok').innerText.includes('rolled back')`)
	if got := sitesOf("staging"); !reflect.DeepEqual(got, []string{snapB, snapB}) {
		t.Errorf("staging runs %v after the rollback, want %s", got, snapshot.Short(snapB))
	}

	want := []any{
		api.PromoteRequest{Snapshot: snapA, To: "staging", By: testUser},
		api.ApproveRequest{Snapshot: snapA, Env: "staging", By: testUser, Comment: "smoke passed"},
		api.PromoteRequest{Snapshot: snapA, To: "staging", By: testUser},
		api.RollbackRequest{Env: "staging", By: testUser},
	}
	if got := f.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("source calls:\n got %+v\nwant %+v", got, want)
	}

	// On a narrow screen the rungs stack, in order.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(600, 900)); err != nil {
		t.Fatal(err)
	}
	rungs = nil
	raw = eval(`JSON.stringify([...document.querySelectorAll('.rung')].map(r => { const b = r.getBoundingClientRect();
		return {Env: r.dataset.env, Left: b.left, Top: b.top, Bottom: b.bottom, Width: b.width}; }))`).(string)
	if err := json.Unmarshal([]byte(raw), &rungs); err != nil {
		t.Fatal(err)
	}
	for i, r := range rungs {
		if r.Width < 500 || r.Bottom-r.Top < 150 {
			t.Errorf("narrow: rung %s is %.0fx%.0f px", r.Env, r.Width, r.Bottom-r.Top)
		}
		if i > 0 && (r.Top < rungs[i-1].Bottom || r.Left != rungs[0].Left) {
			t.Errorf("narrow: rung %s is not below %s: %+v", r.Env, rungs[i-1].Env, rungs)
		}
	}
	shoot(t, bctx, "ladder-narrow.png", false)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
