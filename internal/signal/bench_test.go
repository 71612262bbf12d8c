package signal

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkScrape measures one round over 20 instances of 4 services, each
// exposing a realistic handful of series (3 routes x 3 codes and their
// latency histograms), over real HTTP on loopback.
func BenchmarkScrape(b *testing.B) {
	clock := newFakeClock()
	var targets []ScrapeTarget
	for i := range 20 {
		e := newExporter(b)
		for _, route := range []string{"/a", "/b", "/c"} {
			e.serve(50, route, "200", 0.03)
			e.serve(5, route, "404", 0.004)
			e.serve(1, route, "500", 0.7)
		}
		targets = append(targets, target("svc"+strconv.Itoa(i%4), strconv.Itoa(i), e.url()))
	}
	s := NewScraper(ScraperOptions{Now: clock.Now})
	ctx := context.Background()
	if _, errs := s.Scrape(ctx, targets); len(errs) > 0 {
		b.Fatal(errs)
	}
	for b.Loop() {
		clock.Advance(time.Second)
		samples, errs := s.Scrape(ctx, targets)
		if len(errs) > 0 || len(samples) != 4 {
			b.Fatalf("samples %d, errors %v", len(samples), errs)
		}
	}
}
