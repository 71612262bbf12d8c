package signal

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func sampleAt(service string, sec int) store.Sample {
	return store.Sample{Time: t0.Add(time.Duration(sec) * time.Second), Env: "prod", Site: "eu",
		Snapshot: "snap1", Service: service, RequestRate: float64(sec)}
}

func rates(ss []store.Sample) []float64 {
	var out []float64
	for _, s := range ss {
		out = append(out, s.RequestRate)
	}
	return out
}

func TestHistoryKeepsLastN(t *testing.T) {
	h := NewHistory(3)
	if _, ok := h.Latest("prod", "eu", "api"); ok {
		t.Fatal("Latest on empty history reported a sample")
	}
	if got := h.Series("prod", "eu", "api"); len(got) != 0 {
		t.Fatalf("Series on empty history = %v", got)
	}
	for i := 1; i <= 5; i++ {
		h.Add([]store.Sample{sampleAt("api", i), sampleAt("web", i*10)})
	}
	if got := fmt.Sprint(rates(h.Series("prod", "eu", "api"))); got != "[3 4 5]" {
		t.Errorf("api series = %s, want [3 4 5]", got)
	}
	if got := fmt.Sprint(rates(h.Series("prod", "eu", "web"))); got != "[30 40 50]" {
		t.Errorf("web series = %s, want [30 40 50]", got)
	}
	if s, ok := h.Latest("prod", "eu", "api"); !ok || s.RequestRate != 5 {
		t.Errorf("Latest = %v, %v; want rate 5", s, ok)
	}
	if _, ok := h.Latest("prod", "us", "api"); ok {
		t.Error("another site shares the series")
	}
}

func TestHistorySpansSnapshots(t *testing.T) {
	h := NewHistory(10)
	a, b := sampleAt("api", 1), sampleAt("api", 2)
	b.Snapshot = "snap2"
	h.Add([]store.Sample{a, b})
	got := h.Series("prod", "eu", "api")
	if len(got) != 2 || got[0].Snapshot != "snap1" || got[1].Snapshot != "snap2" {
		t.Errorf("series = %+v", got)
	}
}

func TestHistoryOrdersLateSamples(t *testing.T) {
	h := NewHistory(4)
	for _, sec := range []int{1, 3, 2, 5, 4} {
		h.Add([]store.Sample{sampleAt("api", sec)})
	}
	if got := fmt.Sprint(rates(h.Series("prod", "eu", "api"))); got != "[2 3 4 5]" {
		t.Errorf("series = %s, want [2 3 4 5]", got)
	}
	// Older than everything in a full series: dropped.
	h.Add([]store.Sample{sampleAt("api", 0)})
	if got := fmt.Sprint(rates(h.Series("prod", "eu", "api"))); got != "[2 3 4 5]" {
		t.Errorf("series = %s, want [2 3 4 5]", got)
	}
}

func TestHistorySeriesIsACopy(t *testing.T) {
	h := NewHistory(0)
	h.Add([]store.Sample{sampleAt("api", 1)})
	got := h.Series("prod", "eu", "api")
	got[0].RequestRate = 99
	if s, _ := h.Latest("prod", "eu", "api"); s.RequestRate != 1 {
		t.Error("modifying the returned series changed the history")
	}
}

func TestHistoryConcurrent(t *testing.T) {
	h := NewHistory(50)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				h.Add([]store.Sample{sampleAt(fmt.Sprint("svc", w), i)})
				h.Series("prod", "eu", "svc0")
				h.Latest("prod", "eu", "svc1")
			}
		})
	}
	wg.Wait()
	for w := range 4 {
		got := h.Series("prod", "eu", fmt.Sprint("svc", w))
		if len(got) != 50 || got[0].RequestRate != 150 || got[49].RequestRate != 199 {
			t.Errorf("svc%d: %d samples from %v", w, len(got), got[0].RequestRate)
		}
	}
}
