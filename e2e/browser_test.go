package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ladderhq/ladder/internal/browsertest"
)

// dashboard is the agent's dashboard open in a real browser.
type dashboard struct {
	ctx context.Context
}

func newDashboard(t *testing.T, url string) *dashboard {
	t.Helper()
	ctx := browsertest.Start(t, 3*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.CSS("table.services"))); err != nil {
		t.Fatalf("opening the dashboard at %s: %v", url, err)
	}
	return &dashboard{ctx: ctx}
}

// waitText waits until the page's visible text contains s, without
// reloading it: the page must follow by itself.
func (d *dashboard) waitText(t *testing.T, s string, within time.Duration) {
	t.Helper()
	last := ""
	eventually(t, within, "dashboard shows "+s, func() (bool, string) {
		text, err := chromedp.Run(d.ctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			return false, err.Error()
		}
		last = text
		return strings.Contains(text, s), "page text: " + trim(last)
	})
}

func (d *dashboard) waitSelector(t *testing.T, sel string, within time.Duration) {
	t.Helper()
	eventually(t, within, "dashboard has "+sel, func() (bool, string) {
		n, err := chromedp.Run(d.ctx, chromedp.Evaluate[float64](`document.querySelectorAll('`+sel+`').length`))
		if err != nil {
			return false, err.Error()
		}
		return n > 0, "no element matches"
	})
}

func trim(s string) string {
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}
