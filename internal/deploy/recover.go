package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// Recover closes every release left "progressing" whose site's deploy
// lease has expired (its maker was killed, or lost the store, mid-deploy),
// marking it interrupted, so history never shows a release as forever in
// progress. A release whose site's lease is live is being made and is left
// alone. Each orphan is closed under the site's lease, taken for the
// purpose, so a deploy starting at that moment cannot race it. It returns
// what it closed.
func Recover(ctx context.Context, st store.Store, rec *Recorder) ([]store.Release, error) {
	open, err := st.ListReleases(ctx, store.ReleaseFilter{Phase: store.PhaseProgressing})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var closed []store.Release
	for _, r := range open {
		name := lease.DeployName(r.Env, r.Site)
		if seen[name] {
			continue
		}
		seen[name] = true
		orphaned, _, err := lease.Orphaned(ctx, st, name, time.Now())
		if err != nil {
			return closed, err
		}
		if !orphaned {
			continue
		}
		held, err := lease.Acquire(ctx, st, name, lease.Self(), lease.Options{})
		var busy *lease.BusyError
		if errors.As(err, &busy) {
			continue // a deploy just began: it finishes the orphans itself
		}
		if err != nil {
			return closed, err
		}
		got, err := finishOrphans(ctx, st, rec, r.Env, r.Site)
		held.Release()
		closed = append(closed, got...)
		if err != nil {
			return closed, err
		}
	}
	return closed, nil
}

// finishOrphans marks interrupted every release of env/site still
// progressing. The caller holds the site's deploy lease, so none of them
// has a live maker.
func finishOrphans(ctx context.Context, st store.Store, rec *Recorder, env, site string) ([]store.Release, error) {
	open, err := st.ListReleases(ctx, store.ReleaseFilter{Env: env, Site: site, Phase: store.PhaseProgressing})
	if err != nil {
		return nil, err
	}
	var closed []store.Release
	for _, r := range open {
		who := "the ladder process making it"
		if h, ok := store.ParseHolder(r.Owner); ok {
			who = fmt.Sprintf("the ladder process making it (pid %d on %s)", h.PID, h.Host)
		}
		reason := "interrupted: " + who + " stopped before it finished, and its lease expired"
		err := st.AdvanceRelease(ctx, r.ID, store.PhaseProgressing, store.PhaseInterrupted, reason, time.Now().UTC())
		if errors.Is(err, store.ErrConflict) {
			continue // finished meanwhile
		}
		if err != nil {
			return closed, err
		}
		r.Phase, r.Reason = store.PhaseInterrupted, reason
		closed = append(closed, r)
		if rec != nil {
			rec.Record(store.Event{
				Kind: store.EventDeployRecovered, Env: r.Env, Site: r.Site, Snapshot: r.Snapshot,
				Message: fmt.Sprintf("release %d of snapshot %s was %s", r.Number, snapshot.Short(r.Snapshot), reason),
			})
		}
	}
	return closed, nil
}
