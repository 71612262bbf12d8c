package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ladderhq/ladder/internal/browsertest"
)

// TestBrowserCrossOriginFormRefused logs a real Chromium in to the
// dashboard, then opens pages of other origins that submit a form to
// /ladder/rollback by themselves: one on another site (localhost), whose
// post carries no session cookie, and one on the same site but another
// port, whose post does carry it. Both are refused and nothing reaches
// the source; the dashboard's own form still works.
func TestBrowserCrossOriginFormRefused(t *testing.T) {
	f := newFakeLadder()
	s := newTestServer(f, nil)
	srv := httptest.NewServer(s.handler())
	t.Cleanup(srv.Close)
	attack := fmt.Sprintf(`<!doctype html><form id="f" method="post" action="%s/ladder/rollback">
<input name="environment" value="staging"><input name="csrf" value="guess"></form>
<script>document.getElementById('f').submit()</script>`, srv.URL)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(attack))
	}))
	t.Cleanup(evil.Close)
	bctx := browsertest.Start(t, 60*time.Second)

	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+testLogin(s)), chromedp.WaitVisible(chromedp.CSS("ol.ladder"))); err != nil {
		t.Fatalf("log in: %v", err)
	}
	who, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(".who")))
	if err != nil || !strings.Contains(who, testUser) {
		t.Fatalf("logged-in page says %q (%v)", who, err)
	}

	evilPort := evil.URL[strings.LastIndexByte(evil.URL, ':')+1:]
	for _, origin := range []string{"http://localhost:" + evilPort, evil.URL} {
		if err := chromedp.Do(bctx, chromedp.Navigate(origin+"/")); err != nil {
			t.Fatalf("open %s: %v", origin, err)
		}
		var body string
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			loc, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href`))
			if strings.HasPrefix(loc, srv.URL+"/ladder/rollback") {
				body, _ = chromedp.Run(bctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
				if body != "" {
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(body, "refused") && !strings.Contains(body, "CSRF") && !strings.Contains(body, "credential") {
			t.Errorf("the form posted from %s was answered with %q, want a refusal", origin, body)
		}
		if calls := f.Calls(); len(calls) != 0 {
			t.Fatalf("a form posted from %s reached the source: %+v", origin, calls)
		}
	}

	// The dashboard's own form, with its token, works.
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/ladder"), chromedp.WaitVisible(chromedp.CSS("ol.ladder")),
		chromedp.Click(chromedp.CSS("#env-staging form.rollback button")),
		chromedp.WaitVisible(chromedp.CSS(".flash.ok"))); err != nil {
		t.Fatalf("own rollback form: %v", err)
	}
	if calls := f.Calls(); len(calls) != 1 {
		t.Errorf("own form: source calls %+v, want the rollback", calls)
	}
}
