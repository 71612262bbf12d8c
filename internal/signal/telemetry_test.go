package signal

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/ladderhq/ladder/internal/store"
)

func target(service, slot, url string) ScrapeTarget {
	return ScrapeTarget{Env: "prod", Site: "eu", Snapshot: "snap1", Service: service, Slot: slot, URL: url}
}

func newTestScraper(clock *fakeClock) *Scraper {
	return NewScraper(ScraperOptions{Now: clock.Now, Timeout: 2 * time.Second})
}

// scrapeOK scrapes and fails the test on any scrape error.
func scrapeOK(t *testing.T, s *Scraper, targets ...ScrapeTarget) []store.Sample {
	t.Helper()
	samples, errs := s.Scrape(context.Background(), targets)
	for _, e := range errs {
		t.Errorf("unexpected scrape error: %v", e)
	}
	return samples
}

func checkSample(t *testing.T, got store.Sample, rate, errRate, p50, p95 float64) {
	t.Helper()
	if !near(got.RequestRate, rate) || !near(got.ErrorRate, errRate) || !near(got.P50, p50) || !near(got.P95, p95) {
		t.Errorf("%s: got rate=%v err=%v p50=%v p95=%v; want rate=%v err=%v p50=%v p95=%v",
			got.Service, got.RequestRate, got.ErrorRate, got.P50, got.P95, rate, errRate, p50, p95)
	}
}

func TestScrapeRealExporter(t *testing.T) {
	clock := newFakeClock()
	e := newExporter(t)
	// Traffic before the first scrape must not show up in the first sample.
	e.serve(1000, "/slow", "200", 0.9)
	s := newTestScraper(clock)
	tg := target("api", "0", e.url())
	if got := scrapeOK(t, s, tg); len(got) != 0 {
		t.Fatalf("first scrape gave samples: %+v", got)
	}

	// 100 requests in 10s: 80 OK, 10 client errors, 10 server errors.
	// Latency buckets after the delta: <=0.01: 40, <=0.05: 80, <=0.5: 98, +Inf: 100.
	e.serve(40, "/a", "200", 0.005)
	e.serve(40, "/b", "200", 0.03)
	e.serve(8, "/c", "404", 0.2)
	e.serve(10, "/c", "500", 0.2)
	e.serve(2, "/d", "404", 2)
	clock.Advance(10 * time.Second)
	got := scrapeOK(t, s, tg)
	if len(got) != 1 {
		t.Fatalf("got %d samples, want 1", len(got))
	}
	// p50: rank 50 lies 10/40 into (0.01, 0.05]; p95: rank 95 lies 15/18 into (0.1, 0.5].
	checkSample(t, got[0], 10, 0.1, 0.01+0.04*10/40, 0.1+0.4*15.0/18)
	want := store.Sample{Time: clock.Now(), Env: "prod", Site: "eu", Snapshot: "snap1", Service: "api"}
	if got[0].Time != want.Time || got[0].Env != want.Env || got[0].Site != want.Site ||
		got[0].Snapshot != want.Snapshot || got[0].Service != want.Service {
		t.Errorf("identity = %+v, want %+v", got[0], want)
	}

	// Second interval: 5 requests in 5s, 1 of them slower than every finite
	// bucket and p95 falling into +Inf.
	e.serve(4, "/a", "200", 0.005)
	e.serve(1, "/d", "200", 3)
	clock.Advance(5 * time.Second)
	got = scrapeOK(t, s, tg)
	if len(got) != 1 {
		t.Fatalf("got %d samples, want 1", len(got))
	}
	checkSample(t, got[0], 1, 0, 0.01*2.5/4, 1)

	// A quiet interval: no requests, so zero rates and zero latency.
	clock.Advance(10 * time.Second)
	got = scrapeOK(t, s, tg)
	checkSample(t, got[0], 0, 0, 0, 0)

	e.mu.Lock()
	defer e.mu.Unlock()
	if !strings.Contains(e.accepts[0], "application/vnd.google.protobuf") {
		t.Errorf("Accept = %q, want protobuf offered", e.accepts[0])
	}
}

func TestScrapeTextFormat(t *testing.T) {
	// An exporter that ignores Accept and always answers the text format.
	clock := newFakeClock()
	e := newExporter(t)
	text := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Accept")
		e.handler.ServeHTTP(w, r)
	}))
	defer text.Close()
	s := newTestScraper(clock)
	tg := target("api", "0", text.URL)
	scrapeOK(t, s, tg)
	e.serve(30, "/a", "200", 0.03)
	e.serve(10, "/a", "503", 0.03)
	clock.Advance(4 * time.Second)
	got := scrapeOK(t, s, tg)
	if len(got) != 1 {
		t.Fatalf("got %d samples, want 1", len(got))
	}
	checkSample(t, got[0], 10, 0.25, 0.01+0.04*0.5, 0.01+0.04*0.95)
}

func TestScrapeAggregatesReplicas(t *testing.T) {
	clock := newFakeClock()
	a, b, other := newExporter(t), newExporter(t), newExporter(t)
	targets := []ScrapeTarget{
		target("web", "0", other.url()),
		target("api", "0", a.url()),
		target("api", "1", b.url()),
	}
	s := newTestScraper(clock)
	scrapeOK(t, s, targets...)
	a.serve(27, "/x", "200", 0.005)
	a.serve(3, "/x", "500", 0.005)
	b.serve(63, "/y", "200", 0.2)
	b.serve(7, "/y", "502", 0.2)
	other.serve(20, "/", "200", 0.07)
	clock.Advance(10 * time.Second)
	got := scrapeOK(t, s, targets...)
	if len(got) != 2 || got[0].Service != "api" || got[1].Service != "web" {
		t.Fatalf("got %+v, want api then web", got)
	}
	// Merged buckets: <=0.01: 30, <=0.5: 100. p50 is 20/70 and p95 65/70 into (0.1, 0.5].
	checkSample(t, got[0], 10, 0.1, 0.1+0.4*20/70, 0.1+0.4*65/70)
	checkSample(t, got[1], 2, 0, 0.05+0.05*0.5, 0.05+0.05*0.95)
}

func TestScrapeCounterReset(t *testing.T) {
	clock := newFakeClock()
	e := newExporter(t)
	e.serve(100, "/a", "200", 0.03)
	s := newTestScraper(clock)
	tg := target("api", "0", e.url())
	scrapeOK(t, s, tg)
	// The process restarts and handles 20 requests (5 failing) before the
	// next scrape: every series is lower than before.
	e.restart()
	e.serve(15, "/a", "200", 0.005)
	e.serve(5, "/a", "500", 0.005)
	clock.Advance(10 * time.Second)
	got := scrapeOK(t, s, tg)
	if len(got) != 1 {
		t.Fatalf("got %d samples, want 1", len(got))
	}
	checkSample(t, got[0], 2, 0.25, 0.005, 0.0095)
}

func TestScrapeHandBuiltFamilies(t *testing.T) {
	formats := map[string]expfmt.Format{
		"text":     expfmt.NewFormat(expfmt.TypeTextPlain),
		"protobuf": expfmt.NewFormat(expfmt.TypeProtoDelim),
	}
	for name, format := range formats {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			f := newFamilyServer(t, format)
			s := newTestScraper(clock)
			tg := target("api", "0", f.url())
			f.set(counterFamily(map[string]float64{"200": 1000, "500": 50}), histFamily([]uint64{10, 20, 30, 40, 50}, 60))
			scrapeOK(t, s, tg)

			// 200 rose by 90; 500 was reset and now reads 10 (so 10 new);
			// a new 503 series appeared with 20 (all new); the histogram
			// grew by 100 observations, all in (0.05, 0.1].
			f.set(counterFamily(map[string]float64{"200": 1090, "500": 10, "503": 20}), histFamily([]uint64{10, 20, 130, 140, 150}, 160))
			clock.Advance(20 * time.Second)
			got := scrapeOK(t, s, tg)
			if len(got) != 1 {
				t.Fatalf("got %d samples, want 1", len(got))
			}
			checkSample(t, got[0], 6, 30.0/120, 0.075, 0.0975)

			// The histogram is reset too: its new counts are the delta.
			f.set(counterFamily(map[string]float64{"200": 1090, "500": 10, "503": 20}), histFamily([]uint64{0, 4, 4, 4, 4}, 5))
			clock.Advance(10 * time.Second)
			got = scrapeOK(t, s, tg)
			checkSample(t, got[0], 0, 0, 0.01+0.04*2.5/4, 1)
		})
	}
}

func TestScrapeFirstAndForgotten(t *testing.T) {
	clock := newFakeClock()
	e := newExporter(t)
	s := newTestScraper(clock)
	tg := target("api", "0", e.url())
	scrapeOK(t, s, tg)
	clock.Advance(time.Second)
	if got := scrapeOK(t, s); len(got) != 0 {
		t.Fatalf("no targets gave samples: %+v", got)
	}
	// tg disappeared in the last round, so this is a first scrape again.
	e.serve(10, "/", "200", 0.01)
	clock.Advance(time.Second)
	if got := scrapeOK(t, s, tg); len(got) != 0 {
		t.Fatalf("re-appeared target gave samples: %+v", got)
	}
	// A new snapshot on the same instance is a new target as well.
	tg2 := tg
	tg2.Snapshot = "snap2"
	clock.Advance(time.Second)
	if got := scrapeOK(t, s, tg2); len(got) != 0 {
		t.Fatalf("new snapshot gave samples: %+v", got)
	}
}

func TestScrapeErrors(t *testing.T) {
	clock := newFakeClock()
	e := newExporter(t)
	// A port nothing listens on: bind, note it, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/metrics"
	l.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "exporter on fire", http.StatusInternalServerError)
	}))
	defer broken.Close()

	good := target("api", "0", e.url())
	down := target("api", "1", closed)
	bad := target("db", "0", broken.URL)
	s := newTestScraper(clock)
	_, errs := s.Scrape(context.Background(), []ScrapeTarget{good, down, bad})
	if len(errs) != 2 {
		t.Fatalf("got %d errors, want 2: %v", len(errs), errs)
	}
	if errs[0].Target != down || !errors.Is(errs[0], syscall.ECONNREFUSED) {
		t.Errorf("errs[0] = %+v, want %v refused", errs[0], down)
	}
	if errs[1].Target != bad || !strings.Contains(errs[1].Error(), "HTTP 500: exporter on fire") {
		t.Errorf("errs[1] = %v, want HTTP 500 from %v", errs[1], bad)
	}

	// The reachable replica still yields the service's sample.
	e.serve(40, "/", "200", 0.01)
	clock.Advance(10 * time.Second)
	samples, errs := s.Scrape(context.Background(), []ScrapeTarget{good, down, bad})
	if len(errs) != 2 || len(samples) != 1 {
		t.Fatalf("second round: samples %+v errs %v", samples, errs)
	}
	checkSample(t, samples[0], 4, 0, 0.005, 0.0095)
}

func TestScrapeKeepsBaselineAcrossFailure(t *testing.T) {
	clock := newFakeClock()
	e := newExporter(t)
	var fail atomic.Bool
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		e.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer flaky.Close()
	s := newTestScraper(clock)
	tg := target("api", "0", flaky.URL)
	scrapeOK(t, s, tg)
	e.serve(40, "/", "200", 0.01)
	fail.Store(true)
	clock.Advance(10 * time.Second)
	if _, errs := s.Scrape(context.Background(), []ScrapeTarget{tg}); len(errs) != 1 {
		t.Fatalf("want one error, got %v", errs)
	}
	fail.Store(false)
	clock.Advance(10 * time.Second)
	got := scrapeOK(t, s, tg)
	if len(got) != 1 {
		t.Fatalf("got %d samples, want 1", len(got))
	}
	checkSample(t, got[0], 2, 0, 0.005, 0.0095)
}

func TestScrapeUTF8NamesAndBareText(t *testing.T) {
	clock := newFakeClock()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // no type at all: read as text
		v := n.Add(1) * 10
		w.Write([]byte("# TYPE \"my.requests\" counter\n{\"my.requests\",code=\"500\"} " + strconv.FormatInt(v, 10) + "\n"))
	}))
	defer srv.Close()
	s := NewScraper(ScraperOptions{Now: clock.Now, Names: MetricNames{Requests: "my.requests"}})
	tg := target("api", "0", srv.URL)
	scrapeOK(t, s, tg)
	clock.Advance(5 * time.Second)
	got := scrapeOK(t, s, tg)
	if len(got) != 1 {
		t.Fatalf("got %d samples, want 1", len(got))
	}
	checkSample(t, got[0], 2, 1, 0, 0)
}

func TestScrapeBodyLimit(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write([]byte(strings.Repeat("# padding comment\n", 1000)))
	}))
	defer big.Close()
	s := NewScraper(ScraperOptions{MaxBodyBytes: 1000})
	_, errs := s.Scrape(context.Background(), []ScrapeTarget{target("api", "0", big.URL)})
	if len(errs) != 1 || !errors.Is(errs[0], errTooLarge) {
		t.Fatalf("errs = %v, want errTooLarge", errs)
	}
}

func TestScrapeConcurrencyBound(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
	}))
	defer srv.Close()
	var targets []ScrapeTarget
	for i := range 12 {
		targets = append(targets, target("api", strconv.Itoa(i), srv.URL))
	}
	s := NewScraper(ScraperOptions{Concurrency: 3})
	scrapeOK(t, s, targets...)
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak concurrency %d, want 2..3", p)
	}
}
