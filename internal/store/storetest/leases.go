package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

var leaseTests = []test{
	{"Rules", testLeaseRules},
	{"RenewByHolderOnly", testLeaseRenew},
	{"ReleaseKeepsEpoch", testLeaseRelease},
	{"RefusesBadArguments", testLeaseBadArgs},
	{"List", testLeaseList},
	{"ConcurrentAcquire", testLeaseConcurrent},
}

func holder(name string) store.Holder {
	return store.Holder{Host: "host-" + name, PID: 100 + len(name), Instance: "inst-" + name}
}

// leaseStep is one AcquireLease call at base+at with ttl; the result is
// either the lease granted (wantHolder, wantEpoch, expiry at+ttl) or
// ErrLocked with the live holder's lease.
type leaseStep struct {
	who        string
	at, ttl    time.Duration
	wantErr    error
	wantHolder string
	wantEpoch  int64
	wantExp    time.Duration
}

func grant(who string, at, ttl time.Duration, epoch int64) leaseStep {
	return leaseStep{who: who, at: at, ttl: ttl, wantHolder: who, wantEpoch: epoch, wantExp: at + ttl}
}

func busy(who string, at time.Duration, holder string, epoch int64, exp time.Duration) leaseStep {
	return leaseStep{who: who, at: at, ttl: time.Minute, wantErr: store.ErrLocked, wantHolder: holder, wantEpoch: epoch, wantExp: exp}
}

func testLeaseRules(t *testing.T, s store.Store) {
	const sec = time.Second
	scenarios := []struct {
		name  string
		steps []leaseStep
	}{
		{"FreeIsGrantedAtEpochOne", []leaseStep{grant("a", 0, 5*sec, 1)}},
		{"HolderExtendsKeepingEpoch", []leaseStep{grant("a", 0, 5*sec, 1), grant("a", 2*sec, 5*sec, 1), busy("b", 6*sec, "a", 1, 7*sec)}},
		{"LiveLeaseIsNotStolen", []leaseStep{grant("a", 0, 5*sec, 1), busy("b", 0, "a", 1, 5*sec), busy("b", 4999*time.Millisecond, "a", 1, 5*sec)}},
		{"StolenOnlyAfterExpiry", []leaseStep{grant("a", 0, 5*sec, 1), busy("b", 4*sec, "a", 1, 5*sec), grant("b", 5*sec, 5*sec, 2), busy("a", 6*sec, "b", 2, 10*sec)}},
		{"EpochIncrementsOnEachNewGrant", []leaseStep{grant("a", 0, sec, 1), grant("b", 2*sec, sec, 2), grant("c", 4*sec, sec, 3), grant("a", 6*sec, sec, 4)}},
		{"OwnExpiredLeaseIsANewGrant", []leaseStep{grant("a", 0, sec, 1), grant("a", 2*sec, sec, 2)}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			name := "env/" + sc.name
			for i, st := range sc.steps {
				what := fmt.Sprintf("step %d: AcquireLease %s", i, st.who)
				got, err := s.AcquireLease(t.Context(), name, holder(st.who), base.Add(st.at), st.ttl)
				if st.wantErr == nil {
					must(t, what, err)
				} else {
					isErr(t, what, err, st.wantErr)
				}
				equal(t, what+" lease", got, store.Lease{Name: name, Holder: holder(st.wantHolder), Epoch: st.wantEpoch, Expires: base.Add(st.wantExp)})
			}
			back, err := s.GetLease(t.Context(), name)
			must(t, "GetLease", err)
			last := sc.steps[len(sc.steps)-1]
			if last.wantErr == nil {
				equal(t, "GetLease after", back.Holder, holder(last.who))
			}
		})
	}
}

// testLeaseRenew: only the holder, at its epoch, before expiry, renews.
func testLeaseRenew(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, err := s.AcquireLease(ctx, "agent/dev", holder("a"), at(0), 5*time.Second)
	must(t, "AcquireLease a", err)
	renewed, err := s.RenewLease(ctx, a, at(3), 5*time.Second)
	must(t, "RenewLease by holder", err)
	equal(t, "renewed", renewed, store.Lease{Name: "agent/dev", Holder: holder("a"), Epoch: 1, Expires: at(8)})

	notHolder := renewed
	notHolder.Holder = holder("b")
	_, err = s.RenewLease(ctx, notHolder, at(4), 5*time.Second)
	isErr(t, "RenewLease by a non-holder", err, store.ErrLeaseLost)
	staleEpoch := renewed
	staleEpoch.Epoch = 7
	_, err = s.RenewLease(ctx, staleEpoch, at(4), 5*time.Second)
	isErr(t, "RenewLease at another epoch", err, store.ErrLeaseLost)
	_, err = s.RenewLease(ctx, renewed, at(8), 5*time.Second)
	isErr(t, "RenewLease after expiry", err, store.ErrLeaseLost)

	// Taken over after expiry: the old holder's lease is lost for good.
	b, err := s.AcquireLease(ctx, "agent/dev", holder("b"), at(9), 5*time.Second)
	must(t, "AcquireLease b after expiry", err)
	equal(t, "b's epoch", b.Epoch, int64(2))
	_, err = s.RenewLease(ctx, renewed, at(9), 5*time.Second)
	isErr(t, "RenewLease by the old holder", err, store.ErrLeaseLost)
	back, err := s.GetLease(ctx, "agent/dev")
	must(t, "GetLease", err)
	equal(t, "GetLease", back, b)
	_, err = s.RenewLease(ctx, store.Lease{Name: "never", Holder: holder("a"), Epoch: 1}, at(0), time.Second)
	isErr(t, "RenewLease of an unknown lease", err, store.ErrLeaseLost)
}

// testLeaseRelease: a released lease is free at once and its next grant
// has a higher epoch; a release by a non-holder or a stale epoch is a
// no-op.
func testLeaseRelease(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, err := s.AcquireLease(ctx, "deploy/prod/eu", holder("a"), at(0), time.Hour)
	must(t, "AcquireLease a", err)
	other := a
	other.Holder = holder("b")
	must(t, "ReleaseLease by a non-holder", s.ReleaseLease(ctx, other))
	_, err = s.AcquireLease(ctx, "deploy/prod/eu", holder("b"), at(1), time.Hour)
	isErr(t, "AcquireLease b while a holds it", err, store.ErrLocked)

	must(t, "ReleaseLease", s.ReleaseLease(ctx, a))
	got, err := s.GetLease(ctx, "deploy/prod/eu")
	must(t, "GetLease", err)
	if got.Live(at(1)) {
		t.Errorf("released lease is live: %+v", got)
	}
	equal(t, "released lease", got, store.Lease{Name: "deploy/prod/eu", Epoch: 1})
	b, err := s.AcquireLease(ctx, "deploy/prod/eu", holder("b"), at(1), time.Hour)
	must(t, "AcquireLease b after release", err)
	equal(t, "b's epoch", b.Epoch, int64(2))
	must(t, "ReleaseLease by a's stale lease", s.ReleaseLease(ctx, a))
	got, err = s.GetLease(ctx, "deploy/prod/eu")
	must(t, "GetLease", err)
	equal(t, "lease after a stale release", got, b)

	_, err = s.GetLease(ctx, "never")
	isErr(t, "GetLease unknown", err, store.ErrNotFound)
}

func testLeaseBadArgs(t *testing.T, s store.Store) {
	ctx := t.Context()
	cases := []struct {
		name, lease string
		h           store.Holder
		ttl         time.Duration
	}{
		{"EmptyName", "", holder("a"), time.Second},
		{"NoInstance", "x", store.Holder{Host: "h", PID: 1}, time.Second},
		{"NoHost", "x", store.Holder{PID: 1, Instance: "i"}, time.Second},
		{"ZeroTTL", "x", holder("a"), 0},
	}
	for _, tc := range cases {
		_, err := s.AcquireLease(ctx, tc.lease, tc.h, at(0), tc.ttl)
		if err == nil || errors.Is(err, store.ErrLocked) {
			t.Errorf("AcquireLease %s: error = %v, want a refusal", tc.name, err)
		}
	}
	if _, err := s.AcquireLease(ctx, "x", holder("b"), at(0), time.Second); err != nil {
		t.Errorf("AcquireLease after refused calls: %v, want the lease free", err)
	}
}

func testLeaseList(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, n := range []string{"env/dev", "agent/dev", "env/local", "env_x", "deploy/dev/a"} {
		_, err := s.AcquireLease(ctx, n, holder("a"), at(0), time.Hour)
		must(t, "AcquireLease "+n, err)
	}
	names := func(prefix string) []string {
		ls, err := s.ListLeases(ctx, prefix)
		must(t, "ListLeases "+prefix, err)
		var out []string
		for _, l := range ls {
			out = append(out, l.Name)
		}
		return out
	}
	equalList(t, "ListLeases env/", names("env/"), []string{"env/dev", "env/local"})
	equalList(t, "ListLeases all", names(""), []string{"agent/dev", "deploy/dev/a", "env/dev", "env/local", "env_x"})
	equalList(t, "ListLeases none", names("zzz"), nil)
}

// testLeaseConcurrent: 8 holders race for a lease - free, or expired -
// several times; each time exactly one is granted it and every loser is
// told the winner holds it.
func testLeaseConcurrent(t *testing.T, s store.Store) {
	const workers, rounds = 8, 5
	for _, expired := range []bool{false, true} {
		for round := range rounds {
			name := fmt.Sprintf("race/%v/%d", expired, round)
			now := time.Now().Truncate(time.Millisecond).UTC()
			wantEpoch := int64(1)
			if expired {
				_, err := s.AcquireLease(t.Context(), name, holder("old"), now.Add(-time.Hour), time.Second)
				must(t, "AcquireLease old", err)
				wantEpoch = 2
			}
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				winners []store.Lease
				seen    []store.Lease
			)
			start := make(chan struct{})
			for i := range workers {
				wg.Go(func() {
					<-start
					got, err := s.AcquireLease(t.Context(), name, holder(fmt.Sprintf("w%d", i)), now, time.Minute)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						winners = append(winners, got)
					case errors.Is(err, store.ErrLocked):
						seen = append(seen, got)
					default:
						t.Errorf("%s: AcquireLease w%d: %v", name, i, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if len(winners) != 1 {
				t.Fatalf("%s: winners %v, want exactly one", name, winners)
			}
			equal(t, name+": winner's epoch", winners[0].Epoch, wantEpoch)
			for _, l := range seen {
				equal(t, name+": holder seen by a loser", l, winners[0])
			}
		}
	}
}
