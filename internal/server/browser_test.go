package server

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/ladderhq/ladder/internal/browsertest"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// TestBrowserDashboard loads the dashboard in a real headless Chromium:
// it checks what a person sees (snapshot IDs, health badges, sparklines)
// and that the page follows a new deploy by itself, with the stylesheet and
// script allowed by the page's Content-Security-Policy.
func TestBrowserDashboard(t *testing.T) {
	live := &liveStatus{st: fixtureStatus()}
	s := newTestServer(&fakeSource{StatusFunc: live.get}, nil)
	srv := httptest.NewServer(s.handler())
	t.Cleanup(srv.Close) // after the browser stops (cleanups run last first)
	bctx := browsertest.Start(t, 60*time.Second)

	eval := func(expr string) any {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[any](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}

	if err := chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("table.services")),
	); err != nil {
		t.Fatalf("load dashboard: %v", err)
	}
	text, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	st := fixtureStatus()
	site := st.Sites[0]
	if !strings.Contains(text, snapshot.Short(site.Snapshot)) {
		t.Errorf("page text lacks the site's snapshot %s", snapshot.Short(site.Snapshot))
	}
	for _, svc := range site.Services {
		row := eval(`document.querySelector('tr[data-service="` + svc.Name + `"]').innerText`).(string)
		if !strings.Contains(row, snapshot.Short(svc.Snapshot)) {
			t.Errorf("row %q lacks snapshot %s: %q", svc.Name, snapshot.Short(svc.Snapshot), row)
		}
		badge := eval(`document.querySelector('tr[data-service="` + svc.Name + `"] .badge.health').innerText`).(string)
		if badge != svc.Health {
			t.Errorf("row %q health badge = %q, want %q", svc.Name, badge, svc.Health)
		}
	}
	if n := eval(`[...document.querySelectorAll('table.services svg')].filter(e => e.getBoundingClientRect().width > 0).length`).(float64); n < 1 {
		t.Error("no visible sparkline")
	}
	// The stylesheet applied (the CSP let it through).
	if r := eval(`getComputedStyle(document.querySelector('.card')).borderTopLeftRadius`); r != "10px" {
		t.Errorf("stylesheet not applied: card radius %v", r)
	}

	shoot(t, bctx, "ladder-dashboard.png", false)
	shoot(t, bctx, "ladder-dashboard-dark.png", true)

	// A deploy happens: the page must follow within 3 s without a reload.
	eval(`window.__ladderMarker = 42`)
	// Nodes that stay on the page are kept across refreshes (and only
	// patched), so a button is never swapped for a copy between the
	// moment it is found and the moment it is clicked.
	eval(`window.__kept = [...document.querySelectorAll('#content tr[data-service]')]`)
	next := fixtureStatus()
	next.Sites[0].Snapshot = snapC
	next.Sites[0].Release.ID, next.Sites[0].Release.Snapshot = 8, snapC
	for i := range next.Sites[0].Services {
		next.Sites[0].Services[i].Snapshot = snapC
	}
	live.set(next)
	start := time.Now()
	pctx, pcancel := context.WithTimeout(bctx, 3*time.Second)
	defer pcancel()
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](
		`document.querySelector('.site-snap .snap').dataset.snapshot === "`+snapC+`" && `+
			`document.querySelectorAll('tr[data-snapshot="`+snapC+`"]').length === 3`,
		chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("page did not follow the new snapshot within 3s: %v", err)
	}
	t.Logf("page followed the new snapshot after %v", time.Since(start).Round(10*time.Millisecond))
	if m := eval(`window.__ladderMarker`); m != float64(42) {
		t.Errorf("the page reloaded (marker %v); the refresh script should swap content in place", m)
	}
	if same := eval(`window.__kept.length > 0 && window.__kept.every(tr => tr.isConnected && tr.dataset.snapshot === "` + snapC + `")`); same != true {
		t.Error("the refresh replaced the service rows instead of updating them in place")
	}
	if live := eval(`document.getElementById('live').textContent`); live != "live" {
		t.Errorf("live indicator = %v", live)
	}
	text, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, snapshot.Short(snapC)) || !strings.Contains(strings.ToLower(text), "release #8") {
		t.Error("page text does not show the new snapshot and release")
	}
}

// shoot saves a full-page screenshot under the temp directory, in the
// dark colour scheme or the light one, for a person to look at.
func shoot(t *testing.T, ctx context.Context, name string, dark bool) {
	t.Helper()
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
	if err != nil {
		t.Fatalf("emulate %s scheme: %v", scheme, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(os.TempDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot (%s): %s", scheme, path)
}
