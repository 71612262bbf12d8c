package lease

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var (
	a = store.Holder{Host: "h", PID: 1, Instance: "a"}
	b = store.Holder{Host: "h", PID: 2, Instance: "b"}
)

// TestRenewalKeepsTheLeaseAndReleaseFreesIt: a held lease outlives its
// TTL while renewed; a second holder is refused, after waiting, with a
// BusyError naming the holder; Release frees it at once.
func TestRenewalKeepsTheLeaseAndReleaseFreesIt(t *testing.T) {
	st := openStore(t)
	ctx := t.Context()
	o := Options{TTL: 300 * time.Millisecond, Every: 50 * time.Millisecond}
	held, err := Acquire(ctx, st, "env/dev", a, o)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * o.TTL)
	if err := held.Context().Err(); err != nil {
		t.Fatalf("renewed lease lost: %v", context.Cause(held.Context()))
	}
	began := time.Now()
	_, err = Acquire(ctx, st, "env/dev", b, Options{TTL: o.TTL, Wait: 200 * time.Millisecond})
	var busy *BusyError
	if !errors.As(err, &busy) || busy.Lease.Holder != a {
		t.Fatalf("second holder: %v, want a BusyError naming a", err)
	}
	if waited := time.Since(began); waited < 200*time.Millisecond {
		t.Errorf("refused after %s, want a wait of 200ms first", waited)
	}
	held.Release()
	if !errors.Is(held.Context().Err(), context.Canceled) {
		t.Errorf("context after Release: %v", held.Context().Err())
	}
	next, err := Acquire(ctx, st, "env/dev", b, o)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	defer next.Release()
	if next.Lease().Epoch != 2 {
		t.Errorf("epoch after release = %d, want 2", next.Lease().Epoch)
	}
}

// TestLostLeaseCancelsTheContext: a holder that cannot renew in time
// (here: renewing less often than the TTL) loses the lease to another
// holder and its context is cancelled with ErrLapsed.
func TestLostLeaseCancelsTheContext(t *testing.T) {
	st := openStore(t)
	ctx := t.Context()
	held, err := Acquire(ctx, st, "agent/dev", a, Options{TTL: 100 * time.Millisecond, Every: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	time.Sleep(150 * time.Millisecond)
	orphaned, _, err := Orphaned(ctx, st, "agent/dev", time.Now())
	if err != nil || !orphaned {
		t.Fatalf("Orphaned after expiry = %v, %v; want true", orphaned, err)
	}
	other, err := Acquire(ctx, st, "agent/dev", b, Options{})
	if err != nil {
		t.Fatalf("taking over an expired lease: %v", err)
	}
	defer other.Release()
	select {
	case <-held.Context().Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the old holder's context was not cancelled")
	}
	if !errors.Is(context.Cause(held.Context()), ErrLapsed) {
		t.Errorf("cause = %v, want ErrLapsed", context.Cause(held.Context()))
	}
	if orphaned, _, _ := Orphaned(ctx, st, "agent/dev", time.Now()); orphaned {
		t.Error("Orphaned while b holds it")
	}
}

func TestSelfIsStableAndDistinct(t *testing.T) {
	if Self() != Self() || Self().Instance == "" || Self().Host == "" {
		t.Fatalf("Self() = %+v", Self())
	}
	if h, ok := store.ParseHolder(Self().String()); !ok || h != Self() {
		t.Errorf("ParseHolder(%q) = %+v, %v", Self().String(), h, ok)
	}
}
