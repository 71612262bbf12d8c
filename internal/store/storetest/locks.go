package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

var lockTests = []test{
	{"Rules", testLockRules},
	{"Normalised", testLockNormalised},
	{"RefusesBadArguments", testLockBadArgs},
	{"ConcurrentAcquire", testLockConcurrent},
}

// staleKind is what a step passes as AcquireLock's stale func.
type staleKind int

const (
	staleNil  staleKind = iota // nil: no owner is stale
	staleLive                  // says every owner is alive
	staleDead                  // says every owner is dead
)

// lockStep is one AcquireLock (or, with release set, ReleaseLock) call.
// Expiries are offsets from a millisecond-aligned now taken when the
// scenario starts; a negative one is already expired.
type lockStep struct {
	release bool
	name    string // "" means lockName
	owner   string
	exp     time.Duration
	stale   staleKind

	wantErr   error         // nil or store.ErrLocked
	wantOwner string        // the lock returned: the new one, or the holder's
	wantExp   time.Duration // its expiry
	wantAsked []string      // the owners stale was asked about, in order
}

const lockName = "promote/prod"

func acquire(owner string, exp time.Duration, stale staleKind) lockStep {
	return lockStep{owner: owner, exp: exp, stale: stale, wantOwner: owner, wantExp: exp}
}

func locked(owner string, stale staleKind, holder string, holderExp time.Duration, asked ...string) lockStep {
	return lockStep{owner: owner, exp: time.Hour, stale: stale, wantErr: store.ErrLocked,
		wantOwner: holder, wantExp: holderExp, wantAsked: asked}
}

func release(owner string) lockStep { return lockStep{release: true, owner: owner} }

func testLockRules(t *testing.T, s store.Store) {
	const h = time.Hour
	scenarios := []struct {
		name  string
		steps []lockStep
	}{
		{"FreeIsAcquired", []lockStep{acquire("a", h, staleNil)}},
		{"FreeDoesNotAskStale", []lockStep{acquire("a", h, staleLive)}},
		{"SameOwnerExtends", []lockStep{
			acquire("a", h, staleNil), acquire("a", 2*h, staleLive), locked("b", staleNil, "a", 2*h)}},
		{"OtherOwnerLocked", []lockStep{
			acquire("a", h, staleNil), locked("b", staleNil, "a", h), locked("b", staleLive, "a", h, "a"),
			locked("c", staleLive, "a", h, "a")}},
		{"ExpiredTakenOver", []lockStep{
			acquire("a", -time.Second, staleNil), acquire("b", h, staleLive), locked("a", staleNil, "b", h)}},
		{"ExpiredOwnLockRetaken", []lockStep{acquire("a", -time.Second, staleNil), acquire("a", h, staleNil)}},
		{"StaleOwnerTakenOver", []lockStep{
			acquire("a", h, staleNil),
			{owner: "b", exp: 3 * h, stale: staleDead, wantOwner: "b", wantExp: 3 * h, wantAsked: []string{"a"}},
			locked("a", staleNil, "b", 3*h), locked("c", staleLive, "b", 3*h, "b")}},
		{"ReleaseByNonOwnerIsNoop", []lockStep{
			acquire("a", h, staleNil), release("b"), locked("b", staleNil, "a", h)}},
		{"ReleaseByOwnerFrees", []lockStep{
			acquire("a", h, staleNil), release("a"), acquire("b", 2*h, staleNil), locked("a", staleNil, "b", 2*h)}},
		{"ReleaseAfterTakeoverIsNoop", []lockStep{
			acquire("a", -time.Second, staleNil), acquire("b", h, staleNil), release("a"), locked("a", staleNil, "b", h)}},
		{"ReleaseUnknownIsNoop", []lockStep{release("a"), acquire("b", h, staleNil)}},
		{"NamesAreIndependent", []lockStep{
			acquire("a", h, staleNil),
			{name: "promote/staging", owner: "b", exp: 2 * h, wantOwner: "b", wantExp: 2 * h},
			locked("b", staleNil, "a", h),
			{name: "promote/staging", owner: "a", exp: h, wantErr: store.ErrLocked, wantOwner: "b", wantExp: 2 * h},
			{release: true, name: "promote/staging", owner: "b"},
			locked("b", staleNil, "a", h)}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ctx := t.Context()
			now := time.Now().Truncate(time.Millisecond).UTC()
			for i, st := range sc.steps {
				// Scenarios share the store, so each has its own locks.
				name := st.name
				if name == "" {
					name = lockName
				}
				name = sc.name + ":" + name
				what := fmt.Sprintf("step %d", i)
				if st.release {
					must(t, what+": ReleaseLock "+st.owner, s.ReleaseLock(ctx, name, st.owner))
					continue
				}
				var asked []string
				var stale func(string) bool
				if st.stale != staleNil {
					stale = func(owner string) bool {
						asked = append(asked, owner)
						return st.stale == staleDead
					}
				}
				got, err := s.AcquireLock(ctx, name, st.owner, now.Add(st.exp), stale)
				what += ": AcquireLock " + st.owner
				if st.wantErr == nil {
					must(t, what, err)
				} else {
					isErr(t, what, err, st.wantErr)
				}
				equal(t, what+" lock", got, store.Lock{Name: name, Owner: st.wantOwner, Expires: now.Add(st.wantExp)})
				equalList(t, what+" asked stale about", asked, st.wantAsked)
			}
		})
	}
}

// testLockNormalised: expiries are kept as UTC milliseconds, both in the
// lock returned to the winner and in the holder returned to a loser.
func testLockNormalised(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	given := exp.In(time.FixedZone("X", 3600)).Add(999_999)
	want := store.Lock{Name: lockName, Owner: "a", Expires: exp.UTC()}
	got, err := s.AcquireLock(ctx, lockName, "a", given, nil)
	must(t, "AcquireLock", err)
	equal(t, "AcquireLock lock", got, want)
	got, err = s.AcquireLock(ctx, lockName, "b", given, nil)
	isErr(t, "AcquireLock other owner", err, store.ErrLocked)
	equal(t, "AcquireLock holder", got, want)
}

// testLockBadArgs: an empty name or owner, or a zero expiry, is refused
// (not ErrLocked) and takes nothing.
func testLockBadArgs(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	cases := []struct {
		name, lock, owner string
		expires           time.Time
	}{
		{"EmptyName", "", "a", exp},
		{"EmptyOwner", lockName, "", exp},
		{"ZeroExpiry", lockName, "a", time.Time{}},
	}
	for _, tc := range cases {
		_, err := s.AcquireLock(ctx, tc.lock, tc.owner, tc.expires, nil)
		if err == nil || errors.Is(err, store.ErrLocked) {
			t.Errorf("AcquireLock %s: error = %v, want a refusal", tc.name, err)
		}
	}
	if _, err := s.AcquireLock(ctx, lockName, "b", exp, nil); err != nil {
		t.Errorf("AcquireLock after refused calls: %v, want the lock free", err)
	}
}

// testLockConcurrent: 8 owners race for one lock - free, held by an
// expired owner, or held by a stale one - several times over; each time
// exactly one wins, and every loser is told the winner holds it.
func testLockConcurrent(t *testing.T, s store.Store) {
	const workers, rounds = 8, 5
	cases := []struct {
		name   string
		holder time.Duration // expiry of a lock "old" holds first; 0: none
	}{
		{"Free", 0},
		{"ExpiredHolder", -time.Second},
		{"StaleHolder", time.Hour}, // stale says only "old" is dead
	}
	for _, tc := range cases {
		for round := range rounds {
			name := fmt.Sprintf("%s/%d", tc.name, round)
			now := time.Now().Truncate(time.Millisecond).UTC()
			if tc.holder != 0 {
				_, err := s.AcquireLock(t.Context(), name, "old", now.Add(tc.holder), nil)
				must(t, "AcquireLock old", err)
			}
			raceLock(t, s, name, workers, now.Add(time.Hour))
		}
	}
}

func raceLock(t *testing.T, s store.Store, name string, workers int, exp time.Time) {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		holders []store.Lock
	)
	stale := func(owner string) bool { return owner == "old" }
	start := make(chan struct{})
	for i := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("w%d", i)
			<-start
			got, err := s.AcquireLock(t.Context(), name, owner, exp, stale)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, owner)
				equal(t, name+": winner's lock", got, store.Lock{Name: name, Owner: owner, Expires: exp})
			case errors.Is(err, store.ErrLocked):
				holders = append(holders, got)
			default:
				t.Errorf("%s: AcquireLock %s: %v", name, owner, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%s: AcquireLock from %d goroutines: winners %v, want exactly one", name, workers, winners)
	}
	want := store.Lock{Name: name, Owner: winners[0], Expires: exp}
	equal(t, name+": losers", len(holders), workers-1)
	for _, h := range holders {
		equal(t, name+": holder seen by a loser", h, want)
	}
	// The winner still holds it.
	got, err := s.AcquireLock(t.Context(), name, "late", exp, stale)
	isErr(t, name+": AcquireLock after the race", err, store.ErrLocked)
	equal(t, name+": holder after the race", got, want)
}
