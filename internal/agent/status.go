package agent

import (
	"context"
	"sort"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/signal"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/target"
)

// telemetryWindow is how far back the telemetry shown for a service looks.
const telemetryWindow = 10 * time.Second

// Status implements server.Source.
func (a *Agent) Status(ctx context.Context) (*api.Status, error) {
	a.mu.Lock()
	p := a.project
	a.mu.Unlock()
	st := &api.Status{
		Project:     p.Dir,
		Stack:       p.Stack.Name,
		Environment: a.opts.Env,
		Target:      a.opts.Target.Kind(),
		Agent:       api.Agent{PID: a.holder.PID, URL: a.url, Started: a.started},
	}
	if err := a.storeLost(); err != nil {
		st.StoreLost = err.Error()
	}
	heads, err := a.opts.Store.SiteHeads(ctx, a.opts.Env)
	if err != nil {
		return a.statusWithoutStore(ctx, st, err)
	}
	bySite := make(map[string]store.SiteHead, len(heads))
	for _, h := range heads {
		bySite[h.Site] = h
	}
	for _, site := range a.sites() {
		ref := render.SiteRef{Env: a.opts.Env, Site: site}
		ss, err := a.siteStatus(ctx, ref, bySite[site])
		if err != nil {
			return a.statusWithoutStore(ctx, st, err)
		}
		st.Sites = append(st.Sites, ss)
	}
	events, err := a.opts.Store.ListEvents(ctx, store.EventFilter{Env: a.opts.Env, Limit: 50})
	if err != nil {
		return a.statusWithoutStore(ctx, st, err)
	}
	st.Events = events
	return st, nil
}

// siteStatus is one site's part of the status; head is where the store
// says it stands (zero when it has no release).
func (a *Agent) siteStatus(ctx context.Context, ref render.SiteRef, head store.SiteHead) (api.SiteStatus, error) {
	ss := api.SiteStatus{Site: ref.Site, Services: []api.ServiceStatus{}, Snapshot: head.Current}
	if head.Latest.ID != 0 {
		ss.Release = &head.Latest
	}
	a.mu.Lock()
	ss.Drift = a.drift[ref.Site]
	a.mu.Unlock()
	if d, ok := a.opts.Target.(target.Describer); ok {
		ss.Runtime = d.Describe(ref)
	}
	obs, err := a.opts.Target.Observe(ctx, ref)
	if err != nil {
		return ss, err
	}
	endpoints := map[string][]string{}
	for _, e := range a.opts.Target.Endpoints(ref) {
		endpoints[e.Service] = append(endpoints[e.Service], e.URL)
	}
	byService := map[string][]plan.Instance{}
	for _, in := range obs.Instances {
		byService[in.Service] = append(byService[in.Service], in)
	}
	a.mu.Lock()
	names := make([]string, 0, len(a.project.Stack.Compose.Services))
	for name := range a.project.Stack.Compose.Services {
		names = append(names, name)
	}
	a.mu.Unlock()
	sort.Strings(names)
	var sides map[string]target.Side
	if pl, ok := a.opts.Target.(target.Placer); ok {
		sides = pl.Sides(ref)
	}
	for _, name := range names {
		ins := byService[name]
		svc := api.ServiceStatus{Name: name, Instances: ins, Health: aggregateHealth(ins), Endpoints: endpoints[name], Runs: string(sides[name])}
		if len(ins) > 0 {
			svc.Snapshot, svc.Digest = ins[0].Snapshot, ins[0].Digest
		}
		if series := a.history.Series(ref.Env, ref.Site, name); len(series) > 0 {
			svc.History = series
			if w, ok := signal.Window(series, time.Now(), telemetryWindow); ok {
				svc.Telemetry = &w
			}
		}
		if svc.Instances == nil {
			svc.Instances = []plan.Instance{}
		}
		ss.Services = append(ss.Services, svc)
	}
	return ss, nil
}

// currentSnapshot is the snapshot of the site's last successful release.
func (a *Agent) currentSnapshot(ctx context.Context, ref render.SiteRef) string {
	rels, err := a.opts.Store.ListReleases(ctx, store.ReleaseFilter{Env: ref.Env, Site: ref.Site, Phase: store.PhaseSucceeded, Limit: 1})
	if err != nil || len(rels) == 0 {
		return ""
	}
	return rels[0].Snapshot
}

// aggregateHealth sums up a service's instances for people.
func aggregateHealth(ins []plan.Instance) string {
	if len(ins) == 0 {
		return "stopped"
	}
	healthy, running, checked := 0, 0, false
	for _, in := range ins {
		if in.Health != plan.HealthNone {
			checked = true
		}
		switch {
		case in.Health == plan.HealthUnhealthy:
			return "unhealthy"
		case in.Health == plan.HealthHealthy:
			healthy++
		}
		if in.State == plan.StateRunning {
			running++
		}
	}
	switch {
	case checked && healthy == len(ins):
		return "healthy"
	case checked:
		return "starting"
	case running == len(ins):
		return "running"
	case running == 0:
		if ins[0].State == plan.StateExited && ins[0].ExitCode == 0 {
			return "completed"
		}
		return "stopped"
	}
	return "starting"
}

// statusWithoutStore answers a status whose store failed with err: when
// the store was lost under the agent (found now, before the periodic
// check would), the status says so instead of failing.
func (a *Agent) statusWithoutStore(ctx context.Context, st *api.Status, err error) (*api.Status, error) {
	if c, ok := a.opts.Store.(store.Checker); ok && a.storeLost() == nil {
		a.checkStore(ctx, c)
	}
	lost := a.storeLost()
	if lost == nil {
		return nil, err
	}
	st.StoreLost = lost.Error()
	return st, nil
}
