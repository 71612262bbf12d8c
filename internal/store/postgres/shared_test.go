package postgres

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// openPair opens two stores - two pools, as two ladder processes would
// have - on one new database.
func openPair(t *testing.T) (a, b *Store, dsn string) {
	t.Helper()
	a, dsn = openTemp(t)
	t.Cleanup(func() { a.Close() })
	b, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b, dsn
}

// TestLeaseAcrossPools has two stores contend for one lease, round after
// round, each from several goroutines: exactly one holder wins each
// round, whatever pool it came through. Then the rules that matter across
// machines: the lease outlives its holder's connections (no session
// liveness), and only its expiry frees it.
func TestLeaseAcrossPools(t *testing.T) {
	a, b, dsn := openPair(t)
	ctx := t.Context()
	const rounds, perStore = 20, 4
	for round := range rounds {
		name := fmt.Sprintf("env/prod/%d", round)
		now := time.Now()
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []store.Holder
		)
		start := make(chan struct{})
		for i, s := range []*Store{a, b, a, b, a, b, a, b}[:2*perStore] {
			wg.Go(func() {
				h := store.Holder{Host: fmt.Sprintf("host%d", i%2), PID: i, Instance: fmt.Sprint(i)}
				<-start
				_, err := s.AcquireLease(ctx, name, h, now, time.Hour)
				switch {
				case err == nil:
					mu.Lock()
					winners = append(winners, h)
					mu.Unlock()
				case !errors.Is(err, store.ErrLocked):
					t.Errorf("round %d: AcquireLease %s: %v", round, h, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: winners %v, want exactly one", round, winners)
		}
		// Both pools see the same holder.
		for _, s := range []*Store{a, b} {
			held, err := s.AcquireLease(ctx, name, store.Holder{Host: "late", Instance: "late"}, now, time.Hour)
			if !errors.Is(err, store.ErrLocked) || held.Holder != winners[0] {
				t.Errorf("round %d: after the race: %+v, %v; want held by %s", round, held, err, winners[0])
			}
		}
	}

	// A holder whose process went away keeps the lease until it expires:
	// closing its pool frees nothing.
	c, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	gone := store.Holder{Host: "h", PID: 1, Instance: "gone"}
	next := store.Holder{Host: "h", PID: 2, Instance: "next"}
	if _, err := c.AcquireLease(ctx, "deploy/prod/eu", gone, time.Now(), 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if held, err := b.AcquireLease(ctx, "deploy/prod/eu", next, time.Now(), time.Hour); !errors.Is(err, store.ErrLocked) || held.Holder != gone {
		t.Fatalf("AcquireLease after the holder's pool closed: %+v, %v; want still held by gone", held, err)
	}
	time.Sleep(1550 * time.Millisecond)
	l, err := b.AcquireLease(ctx, "deploy/prod/eu", next, time.Now(), time.Hour)
	if err != nil {
		t.Fatalf("AcquireLease after expiry: %v", err)
	}
	if l.Epoch != 2 {
		t.Errorf("epoch after takeover = %d, want 2", l.Epoch)
	}
}

// commit first, and the tailer's cursor then skips the earlier one.
func TestTailerMissesNothing(t *testing.T) {
	a, b, _ := openPair(t)
	ctx := t.Context()
	const writers, each = 8, 60
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		s := []*Store{a, b}[w%2]
		wg.Go(func() {
			for i := range each {
				if _, err := s.AppendEvent(ctx, store.Event{Kind: store.EventHealthChanged,
					Message: fmt.Sprintf("w%d-%d", w, i)}); err != nil {
					t.Errorf("AppendEvent: %v", err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	seen := map[string]int{}
	var cursor int64
	poll := func() {
		events, err := b.ListEvents(ctx, store.EventFilter{AfterID: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			seen[e.Message]++
			cursor = e.ID
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		poll()
	}
	poll()
	if len(seen) != writers*each {
		t.Errorf("tailer saw %d distinct events, want %d: it skipped some", len(seen), writers*each)
	}
	for m, n := range seen {
		if n != 1 {
			t.Errorf("tailer saw %s %d times", m, n)
		}
	}
}
