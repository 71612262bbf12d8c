package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// Timing of every lease ladder holds: renewed every Every, it lapses TTL
// after the last renewal, so a killed holder's work can be taken over
// within TTL.
const (
	TTL   = 5 * time.Second
	Every = time.Second
	// Wait is how long a command waits for another holder of an
	// environment to finish before it is refused as busy.
	Wait = 3 * time.Second
)

// Lease names.
func EnvName(env string) string          { return "env/" + env }
func DeployName(env, site string) string { return "deploy/" + env + "/" + site }
func AgentName(env string) string        { return "agent/" + env }

// EngineName is the lease of the engine that owns every environment of
// the store (package engine).
const EngineName = "engine"

var (
	selfOnce sync.Once
	self     store.Holder
)

// Self is this process's holder identity: host, PID and a random instance
// ID made once per process (a later process given the same PID is another
// holder).
func Self() store.Holder {
	selfOnce.Do(func() {
		host, _ := os.Hostname()
		if host == "" {
			host = "localhost"
		}
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		self = store.Holder{Host: host, PID: os.Getpid(), Instance: hex.EncodeToString(b)}
	})
	return self
}

// BusyError says a lease is held by another live holder.
type BusyError struct {
	Lease store.Lease
}

func (e *BusyError) Error() string {
	h := e.Lease.Holder
	return fmt.Sprintf("%s is held by another ladder process (pid %d on %s, instance %s) until %s",
		e.Lease.Name, h.PID, h.Host, h.Instance, e.Lease.Expires.Local().Format("15:04:05"))
}

// Options tune Acquire; the zero value uses TTL, Every and time.Now.
type Options struct {
	// Wait is how long to wait for a live holder to let go (0: not at all).
	Wait  time.Duration
	TTL   time.Duration
	Every time.Duration
	Now   func() time.Time
}

func (o *Options) fill() {
	if o.TTL <= 0 {
		o.TTL = TTL
	}
	if o.Every <= 0 {
		o.Every = Every
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// ErrHandedOver is the cause of the work a holder stops on purpose while
// leaving what it runs to the next holder (a served engine that shuts
// down: its standby, or the next engine, takes over the sites as they
// are).
var ErrHandedOver = errors.New("handed over to the next holder")

// ErrLapsed is the cause of a Held's context when the lease could not be
// renewed before it expired, or another holder took it.
var ErrLapsed = errors.New("lease lapsed")

// Held is a lease this process holds and renews until Release.
type Held struct {
	st     store.Leases
	o      Options
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu    sync.Mutex
	lease store.Lease
}

// Acquire takes the lease name for h, waiting up to o.Wait for a live
// holder to let go (then *BusyError), and renews it until Release. ctx
// bounds the waiting only; the Held's own Context lives until Release or
// the lease is lost.
func Acquire(ctx context.Context, st store.Leases, name string, h store.Holder, o Options) (*Held, error) {
	o.fill()
	deadline := o.Now().Add(o.Wait)
	for {
		l, err := st.AcquireLease(ctx, name, h, o.Now(), o.TTL)
		if err == nil {
			return start(st, l, o), nil
		}
		if !errors.Is(err, store.ErrLocked) {
			return nil, err
		}
		if !o.Now().Before(deadline) {
			return nil, &BusyError{Lease: l}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(100*time.Millisecond, time.Until(deadline)+time.Millisecond)):
		}
	}
}

func start(st store.Leases, l store.Lease, o Options) *Held {
	ctx, cancel := context.WithCancelCause(context.Background())
	h := &Held{st: st, o: o, ctx: ctx, cancel: cancel, done: make(chan struct{}), lease: l}
	go h.renew()
	return h
}

func (h *Held) renew() {
	defer close(h.done)
	tick := time.NewTicker(h.o.Every)
	defer tick.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-tick.C:
		}
		cur := h.Lease()
		now := h.o.Now()
		rctx, cancel := context.WithTimeout(h.ctx, h.o.TTL)
		l, err := h.st.RenewLease(rctx, cur, now, h.o.TTL)
		cancel()
		switch {
		case err == nil:
			h.mu.Lock()
			h.lease = l
			h.mu.Unlock()
		case errors.Is(err, store.ErrLeaseLost), !h.o.Now().Before(cur.Expires):
			// Lost, or the store did not answer before it lapsed: another
			// holder may own it now, so stop acting on it.
			h.cancel(fmt.Errorf("%w: %s: %v", ErrLapsed, cur.Name, err))
			return
		}
		// Any other error: try again next tick while the lease lasts.
	}
}

// Context is cancelled when the lease is lost (cause ErrLapsed) or
// released.
func (h *Held) Context() context.Context { return h.ctx }

// Lease is the lease as last granted or renewed.
func (h *Held) Lease() store.Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lease
}

// Release stops renewing and frees the lease (if still held), at once for
// the next holder.
func (h *Held) Release() {
	h.cancel(context.Canceled)
	<-h.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.st.ReleaseLease(ctx, h.Lease())
}

// Orphaned reports whether the lease name is not held at now: never
// granted, released, or expired (its holder stopped renewing). Work
// recorded under it may then be closed by another process.
func Orphaned(ctx context.Context, st store.Leases, name string, now time.Time) (bool, store.Lease, error) {
	l, err := st.GetLease(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return true, store.Lease{}, nil
	}
	if err != nil {
		return false, store.Lease{}, err
	}
	return !l.Live(now), l, nil
}
