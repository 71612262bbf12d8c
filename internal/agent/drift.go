package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/target"
)

// Drift events.
const (
	eventDriftResolved store.EventKind = "drift.resolved"
)

// watchDrift follows the target's change stream for each site and checks
// drift on every change. One check runs at a time per site; changes that
// arrive meanwhile are folded into one more check.
func (a *Agent) watchDrift(ctx context.Context) {
	w, ok := a.opts.Target.(target.Watcher)
	if !ok {
		return
	}
	for _, site := range a.sites() {
		ref := render.SiteRef{Env: a.opts.Env, Site: site}
		kick := make(chan string, 1)
		a.wg.Add(2)
		go func() {
			defer a.wg.Done()
			w.Watch(ctx, ref, func(what string) {
				select {
				case kick <- what:
				default: // a check is already pending
				}
			})
		}()
		go func() {
			defer a.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case what := <-kick:
					a.checkDrift(ctx, ref, what)
				}
			}
		}()
	}
}

// checkDrift compares the site's desired state with what runs and
// records an event when the answer changes. It does nothing while a
// release is under way (the release's own changes are not drift); the
// release checks again when it ends.
func (a *Agent) checkDrift(ctx context.Context, ref render.SiteRef, cause string) {
	if !a.deployMu.TryLock() {
		return
	}
	defer a.deployMu.Unlock()
	a.checkDriftLocked(ctx, ref, cause)
}

func (a *Agent) checkDriftLocked(ctx context.Context, ref render.SiteRef, cause string) {
	insp, ok := a.opts.Target.(target.Inspector)
	if !ok {
		return
	}
	a.mu.Lock()
	d := a.desired[ref.Site]
	prev := a.drift[ref.Site]
	a.mu.Unlock()
	if d == nil {
		return
	}
	live, err := insp.Inspect(ctx, ref)
	if err != nil {
		a.opts.Logger.Warn("inspecting for drift", "site", ref, "err", err)
		return
	}
	rep := drift.Compare(d, live, drift.Options{ImageID: render.ImageIDs(a.opts.Builder.Image)})
	a.mu.Lock()
	if rep.Drifted() {
		a.drift[ref.Site] = rep
	} else {
		delete(a.drift, ref.Site)
	}
	a.mu.Unlock()
	switch {
	case rep.Drifted() && (prev == nil || prev.String() != rep.String()):
		var services []string
		for _, s := range rep.Services {
			services = append(services, s.Service)
		}
		a.events.Record(store.Event{
			Kind: store.EventDrift, Env: ref.Env, Site: ref.Site, Snapshot: d.Snapshot,
			Message: fmt.Sprintf("drift on %s (snapshot %s) in %s after %s; `ladder up` repairs it", ref, snapshot.Short(d.Snapshot), strings.Join(services, ", "), cause),
			Attrs:   map[string]string{"report": rep.String()},
		})
	case !rep.Drifted() && prev != nil:
		a.events.Record(store.Event{
			Kind: eventDriftResolved, Env: ref.Env, Site: ref.Site, Snapshot: d.Snapshot,
			Message: fmt.Sprintf("%s matches snapshot %s again", ref, snapshot.Short(d.Snapshot)),
		})
	}
}

// Drift returns the current drift report of every site that drifted.
func (a *Agent) Drift(ctx context.Context) ([]*drift.Report, error) {
	var out []*drift.Report
	for _, site := range a.sites() {
		ref := render.SiteRef{Env: a.opts.Env, Site: site}
		a.deployMu.Lock()
		a.checkDriftLocked(ctx, ref, "a drift check")
		a.deployMu.Unlock()
		a.mu.Lock()
		if rep := a.drift[site]; rep != nil {
			out = append(out, rep)
		}
		a.mu.Unlock()
	}
	return out, nil
}
