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

// TestLockAcrossPools has two stores contend for one lock, round after
// round, each from several goroutines: exactly one owner wins each round,
// whatever pool it came through. Then the rules that matter across
// machines: the lock outlives its holder's connections (no session
// liveness), and only its expiry frees it.
func TestLockAcrossPools(t *testing.T) {
	a, b, dsn := openPair(t)
	ctx := t.Context()
	const rounds, perStore = 20, 4
	for round := range rounds {
		name := fmt.Sprintf("promote/prod/%d", round)
		exp := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
		)
		start := make(chan struct{})
		for i, s := range []*Store{a, b, a, b, a, b, a, b}[:2*perStore] {
			wg.Go(func() {
				owner := fmt.Sprintf("host%d:%d", i%2, i)
				<-start
				_, err := s.AcquireLock(ctx, name, owner, exp, nil)
				switch {
				case err == nil:
					mu.Lock()
					winners = append(winners, owner)
					mu.Unlock()
				case !errors.Is(err, store.ErrLocked):
					t.Errorf("round %d: AcquireLock %s: %v", round, owner, err)
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
			held, err := s.AcquireLock(ctx, name, "late", exp, nil)
			if !errors.Is(err, store.ErrLocked) || held.Owner != winners[0] {
				t.Errorf("round %d: after the race: %+v, %v; want held by %s", round, held, err, winners[0])
			}
		}
	}

	// A holder whose process went away keeps the lock until it expires:
	// closing a's pool frees nothing.
	c, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(1500 * time.Millisecond)
	if _, err := c.AcquireLock(ctx, "deploy/prod", "gone", exp, nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if held, err := b.AcquireLock(ctx, "deploy/prod", "next", time.Now().Add(time.Hour), nil); !errors.Is(err, store.ErrLocked) || held.Owner != "gone" {
		t.Fatalf("AcquireLock after the holder's pool closed: %+v, %v; want still held by gone", held, err)
	}
	time.Sleep(time.Until(exp) + 50*time.Millisecond)
	if _, err := b.AcquireLock(ctx, "deploy/prod", "next", time.Now().Add(time.Hour), nil); err != nil {
		t.Fatalf("AcquireLock after expiry: %v", err)
	}
}

// TestStaleTakeoverIsCompareAndSwap: two contenders both judge the same
// holder stale; only one takes it over, and the other then sees the new
// holder (whom it does not judge stale) instead of overwriting it.
func TestStaleTakeoverIsCompareAndSwap(t *testing.T) {
	a, b, _ := openPair(t)
	ctx := t.Context()
	for round := range 20 {
		name := fmt.Sprintf("promote/staging/%d", round)
		exp := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
		if _, err := a.AcquireLock(ctx, name, "dead", exp, nil); err != nil {
			t.Fatal(err)
		}
		stale := func(owner string) bool { return owner == "dead" }
		var wg sync.WaitGroup
		results := make([]error, 2)
		start := make(chan struct{})
		for i, s := range []*Store{a, b} {
			wg.Go(func() {
				<-start
				_, results[i] = s.AcquireLock(ctx, name, fmt.Sprintf("new%d", i), exp, stale)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range results {
			if err == nil {
				won++
			} else if !errors.Is(err, store.ErrLocked) {
				t.Errorf("round %d: %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d took over the stale lock (%v), want 1", round, won, results)
		}
	}
}

// TestTailerMissesNothing appends events through two pools while a tailer
// follows them by ID: every event is seen exactly once. IDs must become
// visible in order for this to hold; a plain sequence lets a later ID
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
