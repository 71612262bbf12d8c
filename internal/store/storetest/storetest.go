package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// Run runs the conformance suite. open must return a new, empty store each
// time it is called; Run closes it when the subtest that asked for it ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Snapshots", snapshotTests},
		{"Artifacts", artifactTests},
		{"Releases", releaseTests},
		{"Events", eventTests},
		{"Instances", instanceTests},
		{"Samples", sampleTests},
		{"Retention", retentionTests},
		{"Promotions", promotionTests},
		{"GateResults", gateTests},
		{"Approvals", approvalTests},
		{"KnownGood", knownGoodTests},
		{"Jobs", jobTests},
		{"Audit", auditTests},
		{"Leases", leaseTests},
		{"Grants", grantTests},
		{"TrustedKeys", trustTests},
		{"Policies", policyTests},
		{"Tokens", tokenTests},
		{"Concurrency", concurrencyTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					s := open(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.fn(t, s)
				})
			}
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// base is a fixed, millisecond-aligned UTC instant the tests count from, so
// expected values can be written exactly.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

// at returns base plus n seconds.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }

// hexOf returns 64 hex digits derived from seed (a plausible ID or digest).
func hexOf(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:])
}

func digest(seed string) string { return "sha256:" + hexOf(seed) }

// equal fails the test unless got and want are deeply equal. Stored times
// must come back in UTC, so a time in another location is a difference.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// must fails the test at once on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// isErr fails the test unless errors.Is(err, want).
func isErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error = %v, want %v", what, err, want)
	}
}

// within checks that got is a stored "now": between before and after at
// millisecond precision, in UTC.
func within(t *testing.T, what string, got, before, after time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s: time %v is not UTC", what, got)
	}
	if got.Before(before.Truncate(time.Millisecond)) || got.After(after) {
		t.Errorf("%s: time %v not within [%v, %v]", what, got, before, after)
	}
	if got.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("%s: time %v is finer than a millisecond", what, got)
	}
}

var concurrencyTests = []test{
	{"WritersDoNotLoseRecords", testConcurrentWriters},
	{"SamePutSnapshotCreatesOnce", testConcurrentPutSnapshot},
}

// testConcurrentWriters has 8 goroutines append events and create releases
// at the same time; every write must succeed and be listed exactly once.
func testConcurrentWriters(t *testing.T, s store.Store) {
	const workers, each = 8, 50
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			var last int64
			for i := range each {
				e, err := s.AppendEvent(ctx, store.Event{
					Kind: store.EventHealthChanged, Env: "prod", Site: fmt.Sprintf("w%d", w),
					Message: fmt.Sprintf("w%d-%d", w, i),
				})
				if err != nil {
					errs <- fmt.Errorf("worker %d: AppendEvent %d: %w", w, i, err)
					return
				}
				if e.ID <= last {
					errs <- fmt.Errorf("worker %d: event ID %d after %d: not increasing", w, e.ID, last)
					return
				}
				last = e.ID
				if _, err := s.CreateRelease(ctx, store.Release{
					Env: "prod", Site: fmt.Sprintf("w%d", w), Snapshot: fmt.Sprintf("w%d-%d", w, i),
					Phase: store.PhaseProgressing, Started: at(i),
				}); err != nil {
					errs <- fmt.Errorf("worker %d: CreateRelease %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	events, err := s.ListEvents(ctx, store.EventFilter{})
	must(t, "ListEvents", err)
	if len(events) != workers*each {
		t.Fatalf("ListEvents: %d events, want %d", len(events), workers*each)
	}
	seen := map[string]bool{}
	for i, e := range events {
		if i > 0 && e.ID <= events[i-1].ID {
			t.Errorf("ListEvents: ID %d after %d: not ascending", e.ID, events[i-1].ID)
		}
		seen[e.Message] = true
	}
	rels, err := s.ListReleases(ctx, store.ReleaseFilter{})
	must(t, "ListReleases", err)
	if len(rels) != workers*each {
		t.Fatalf("ListReleases: %d releases, want %d", len(rels), workers*each)
	}
	ids := map[int64]bool{}
	for _, r := range rels {
		ids[r.ID] = true
		seen["release "+r.Snapshot] = true
	}
	if len(ids) != workers*each {
		t.Errorf("ListReleases: %d distinct IDs, want %d", len(ids), workers*each)
	}
	for w := range workers {
		for i := range each {
			for _, key := range []string{fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("release w%d-%d", w, i)} {
				if !seen[key] {
					t.Errorf("record %q was lost", key)
				}
			}
		}
	}
}

// testConcurrentPutSnapshot records one snapshot from 8 goroutines at once:
// exactly one of them may report that it created it.
func testConcurrentPutSnapshot(t *testing.T, s store.Store) {
	const workers = 8
	snap := newSnap("race", "r1", at(0), "api")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
	)
	for range workers {
		wg.Go(func() {
			ok, err := s.PutSnapshot(t.Context(), clone(snap))
			if err != nil {
				t.Errorf("PutSnapshot: %v", err)
				return
			}
			if ok {
				mu.Lock()
				created++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if created != 1 {
		t.Errorf("PutSnapshot from %d goroutines: created=true %d times, want 1", workers, created)
	}
}
