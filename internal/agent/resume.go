package agent

import (
	"context"

	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// ResumeActor is who the record names for a resumed release.
const ResumeActor = "ladder-engine"

// resume brings the environment back to its last successful release when
// nothing of it runs although nobody took it down: the engine that ran it
// died (or its machine restarted), and this one took over. The desired
// state comes from the store alone: a site's newest succeeded release,
// unless a `ladder down` of the site was recorded after it.
func (a *Agent) resume(ctx context.Context) {
	id := ""
	for _, site := range a.sites() {
		ref := render.SiteRef{Env: a.opts.Env, Site: site}
		if snap := a.toResume(ctx, ref); snap != "" {
			id = snap
			break
		}
	}
	if id == "" {
		return
	}
	grant, err := a.promoter().ResumeGrant(ctx, a.opts.Env, id)
	if err != nil {
		a.opts.Logger.Error("cannot resume", "env", a.opts.Env, "snapshot", snapshot.Short(id), "err", err)
		return
	}
	a.opts.Logger.Info("resuming the last release: nothing of it runs, and it was not taken down", "env", a.opts.Env, "snapshot", snapshot.Short(id))
	if _, err := a.deployDetached(ctx, id, DeployOptions{By: ResumeActor, Grant: grant}); err != nil {
		a.opts.Logger.Error("resuming failed", "env", a.opts.Env, "snapshot", snapshot.Short(id), "err", err)
	}
}

// toResume is the snapshot site ref should run and does not, or "".
func (a *Agent) toResume(ctx context.Context, ref render.SiteRef) string {
	st := a.opts.Store
	last, err := st.ListReleases(ctx, store.ReleaseFilter{Env: ref.Env, Site: ref.Site, Limit: 1})
	if err != nil || len(last) == 0 || last[0].Phase == store.PhaseProgressing {
		// Nothing ever ran, or a deploy is under way.
		return ""
	}
	good, err := st.ListReleases(ctx, store.ReleaseFilter{Env: ref.Env, Site: ref.Site, Phase: store.PhaseSucceeded, Limit: 1})
	if err != nil || len(good) == 0 {
		return ""
	}
	downs, err := st.ListEvents(ctx, store.EventFilter{Env: ref.Env, Site: ref.Site, Kind: store.EventStackDown, Limit: 1})
	if err != nil || (len(downs) > 0 && !downs[0].Time.Before(good[0].Finished)) {
		return ""
	}
	obs, err := a.opts.Target.Observe(ctx, ref)
	if err != nil || len(obs.Instances) > 0 {
		return ""
	}
	return good[0].Snapshot
}
