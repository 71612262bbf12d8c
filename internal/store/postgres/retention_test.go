package postgres

import (
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// TestPruneConcurrently: two replicas pruning at the same moment fold each
// raw sample exactly once - no bucket appears twice, none is lost.
func TestPruneConcurrently(t *testing.T) {
	a, b, _ := openPair(t)
	for round := range 5 {
		// Each round's samples lie a day before the previous round's.
		pruneRace(t, a, b, time.Date(2025, 3, 14-round, 12, 0, 0, 0, time.UTC))
		if t.Failed() {
			return
		}
	}
}

func pruneRace(t *testing.T, a, b *Store, now time.Time) {
	ctx := t.Context()
	const minutes, perMinute = 30, 12
	var samples []store.Sample
	for m := range minutes {
		for i := range perMinute {
			samples = append(samples, store.Sample{
				Time: now.Add(-2*time.Hour + time.Duration(m)*time.Minute + time.Duration(i)*5*time.Second),
				Env:  "prod", Site: "eu-1", Snapshot: "s", Service: "api", RequestRate: 10, P50: 0.01, P95: 0.1,
			})
		}
	}
	if err := a.AppendSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	r := store.Retention{RawSamples: time.Hour, SampleBucket: time.Minute}
	var wg sync.WaitGroup
	pruned := make([]store.Pruned, 2)
	start := make(chan struct{})
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			<-start
			var err error
			if pruned[i], err = s.Prune(ctx, r, now); err != nil {
				t.Errorf("Prune %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := pruned[0].Folded + pruned[1].Folded; got != minutes*perMinute {
		t.Errorf("folded %d raw samples in all, want %d (%+v)", got, minutes*perMinute, pruned)
	}
	if got := pruned[0].Buckets + pruned[1].Buckets; got != minutes {
		t.Errorf("made %d buckets in all, want %d (%+v)", got, minutes, pruned)
	}
	left, err := b.ListSamples(ctx, store.SampleFilter{Since: now.Add(-2 * time.Hour), Limit: 10 * minutes})
	if err != nil {
		t.Fatal(err)
	}
	// Earlier rounds' samples lie later in time; keep this round's.
	end := now.Add(-2*time.Hour + minutes*time.Minute)
	for i, x := range left {
		if !x.Time.Before(end) {
			left = left[:i]
			break
		}
	}
	if len(left) != minutes {
		t.Errorf("%d samples left, want one per minute (%d)", len(left), minutes)
	}
	for _, x := range left {
		if x.Span != time.Minute {
			t.Errorf("sample at %v: span %v, want a folded minute", x.Time, x.Span)
		}
	}
}
