package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// How often the agent checks that its store is still the file it opened,
// and applies the retention policy.
const (
	storeCheckEvery = 2 * time.Second
	pruneEvery      = time.Minute
	// pruneFirstAfter lets a fresh agent deploy before it prunes.
	pruneFirstAfter = 10 * time.Second
)

// housekeep runs the store's periodic jobs until ctx ends: the identity
// check, and retention. Run owns it (through a.wg) and waits for it.
func (a *Agent) housekeep(ctx context.Context) {
	checker, _ := a.opts.Store.(store.Checker)
	check := time.NewTicker(storeCheckEvery)
	defer check.Stop()
	prune := time.NewTimer(pruneFirstAfter)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C:
			if checker != nil && a.storeLost() == nil {
				a.checkStore(ctx, checker)
			}
		case <-prune.C:
			prune.Reset(pruneEvery)
			if a.storeLost() == nil {
				a.prune(ctx, time.Now())
			}
		}
	}
}

// checkStore notices a store whose file was deleted, replaced, emptied
// or damaged under the agent. The store refuses writes from then on; the
// agent says so once, loudly, and in its status, and keeps the services
// running: losing the record is no reason to stop serving.
func (a *Agent) checkStore(ctx context.Context, c store.Checker) {
	err := c.Check(ctx)
	if err == nil || !(errors.Is(err, store.ErrLost) || errors.Is(err, store.ErrDamaged)) {
		if err != nil && ctx.Err() == nil {
			a.opts.Logger.Warn("checking the store", "err", err)
		}
		return
	}
	a.mu.Lock()
	first := a.lostStore == nil
	if first {
		a.lostStore = err
	}
	a.mu.Unlock()
	if first {
		msg := "the store was lost; this agent records nothing more (releases, events, telemetry) until it is restarted on a restored store; the services keep running"
		a.opts.Logger.Error(msg, "err", err, "env", a.opts.Env)
		if a.opts.Alert != nil {
			a.opts.Alert(fmt.Sprintf("%s: %s: %v", a.opts.Env, msg, err))
		}
	}
}

// storeLost is the error that made the agent stop recording, if any.
func (a *Agent) storeLost() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lostStore
}

// prune applies the project's retention policy as of now.
func (a *Agent) prune(ctx context.Context, now time.Time) {
	a.mu.Lock()
	policy := a.project.Ladder.Retention
	a.mu.Unlock()
	got, err := a.opts.Store.Prune(ctx, Retention(policy), now)
	if err != nil {
		if ctx.Err() == nil {
			a.opts.Logger.Warn("applying retention", "err", err)
		}
		return
	}
	if got != (store.Pruned{}) {
		a.opts.Logger.Debug("retention applied", "folded", got.Folded, "buckets", got.Buckets,
			"samples", got.Samples, "events", got.Events, "audit", got.Audit)
	}
}

// Retention is ladder.yaml's retention policy with the store's defaults
// for what it leaves unset.
func Retention(p spec.RetentionPolicy) store.Retention {
	out := store.DefaultRetention()
	for _, f := range []struct {
		dst *time.Duration
		v   *time.Duration
	}{
		{&out.RawSamples, p.RawSamples},
		{&out.SampleBucket, p.Bucket},
		{&out.Samples, p.Samples},
		{&out.Events, p.Events},
		{&out.Audit, p.Audit},
	} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	return out
}
