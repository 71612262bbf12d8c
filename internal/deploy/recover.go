package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/proc"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// Recover closes every release left "progressing" by a ladder process that
// no longer runs (killed mid-deploy), marking it interrupted, so history
// never shows a release as forever in progress. It returns what it closed.
func Recover(ctx context.Context, st store.Store, rec *Recorder) ([]store.Release, error) {
	open, err := st.ListReleases(ctx, store.ReleaseFilter{Phase: store.PhaseProgressing})
	if err != nil {
		return nil, err
	}
	var closed []store.Release
	for _, r := range open {
		if proc.Alive(r.Owner) {
			continue
		}
		reason := fmt.Sprintf("interrupted: the ladder process making it (pid %d) stopped before it finished", proc.PID(r.Owner))
		if err := st.FinishRelease(ctx, r.ID, store.PhaseInterrupted, reason, time.Now().UTC()); err != nil {
			return closed, err
		}
		r.Phase, r.Reason = store.PhaseInterrupted, reason
		closed = append(closed, r)
		if rec != nil {
			rec.Record(store.Event{
				Kind: store.EventDeployRecovered, Env: r.Env, Site: r.Site, Snapshot: r.Snapshot,
				Message: fmt.Sprintf("release %d of snapshot %s was %s", r.ID, snapshot.Short(r.Snapshot), reason),
			})
		}
	}
	return closed, nil
}
