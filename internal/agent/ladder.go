package agent

import (
	"context"
	"errors"
	"fmt"
	"github.com/ladderhq/ladder/internal/lease"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// promoter is the promotion library wired to this agent: its own
// environment deploys in process, others through their agents (started
// when none runs).
func (a *Agent) promoter() *promote.Promoter {
	a.mu.Lock()
	p := a.project
	a.mu.Unlock()
	return &promote.Promoter{
		Project: p,
		Store:   a.opts.Store,
		Deploy: func(ctx context.Context, env, id, by, grant string) (*api.DeployResult, error) {
			if env == a.opts.Env {
				return a.deployDetached(ctx, id, DeployOptions{By: by, Grant: grant})
			}
			c, ok := Find(ctx, a.opts.StateDir, env)
			if !ok {
				if a.opts.StartEnv == nil {
					return nil, fmt.Errorf("%s is not running", env)
				}
				var err error
				if c, err = a.opts.StartEnv(ctx, env); err != nil {
					return nil, err
				}
			}
			return c.Deploy(ctx, api.DeployRequest{Snapshot: id, By: by, Grant: grant})
		},
		Endpoints: func(ctx context.Context, env string) (map[string]string, error) {
			return Endpoints(ctx, a.opts.StateDir, env)
		},
		Verify: a.opts.Verify,
		Events: a.events,
		Holder: lease.Self(),
		Wait:   lease.Wait,
		Dir:    a.opts.Dir,
	}
}

// Promote implements server.LadderSource.
func (a *Agent) Promote(ctx context.Context, req api.PromoteRequest) (*api.ActionResult, error) {
	res, err := a.promoter().Promote(ctx, promote.Request{Snapshot: req.Snapshot, To: req.To, By: req.By, Why: req.Why})
	out := &api.ActionResult{}
	if res != nil {
		out.Promotion = &api.PromotionView{Promotion: res.Promotion, Gates: res.Gates}
		out.Deploy = res.Deploy
	}
	if err != nil {
		var blocked *promote.BlockedError
		if res == nil && !errors.As(err, &blocked) && errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		out.Error = err.Error()
		return out, nil
	}
	out.OK = true
	out.Message = fmt.Sprintf("snapshot %s promoted to %s", snapshot.Short(res.Snapshot.ID), req.To)
	return out, nil
}

// Approve implements server.LadderSource.
func (a *Agent) Approve(ctx context.Context, req api.ApproveRequest) (*api.ActionResult, error) {
	ap, err := a.promoter().Approve(ctx, req.Snapshot, req.Env, req.By, req.Comment)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, auth.ErrForbidden) {
			return nil, err
		}
		return &api.ActionResult{Error: err.Error()}, nil
	}
	return &api.ActionResult{OK: true, Message: fmt.Sprintf("%s approved snapshot %s for %s", ap.By, snapshot.Short(ap.Snapshot), ap.Env)}, nil
}

// Rollback implements server.LadderSource.
func (a *Agent) Rollback(ctx context.Context, req api.RollbackRequest) (*api.ActionResult, error) {
	res, err := a.promoter().Rollback(ctx, req.Env, req.To, req.By, req.Why)
	out := &api.ActionResult{}
	if res != nil {
		out.Deploy = res.Deploy
	}
	if err != nil {
		out.Error = err.Error()
		return out, nil
	}
	out.OK = true
	out.Message = fmt.Sprintf("%s rolled back to snapshot %s", req.Env, snapshot.Short(res.To.ID))
	return out, nil
}

// Ladder implements server.LadderSource: every environment with what runs
// on its sites (live status from its agent when one runs), its recent
// promotions and releases.
func (a *Agent) Ladder(ctx context.Context) (*api.Ladder, error) {
	a.mu.Lock()
	p := a.project
	a.mu.Unlock()
	l := &api.Ladder{Stack: p.Stack.Name, Generated: time.Now().UTC()}
	for i := range p.Ladder.Environments {
		e := &p.Ladder.Environments[i]
		le, err := a.ladderEnv(ctx, e)
		if err != nil {
			return nil, err
		}
		l.Environments = append(l.Environments, le)
	}
	snaps, err := a.opts.Store.ListSnapshots(ctx, store.SnapshotFilter{Limit: 10})
	if err != nil {
		return nil, err
	}
	where := map[string][]string{}
	for _, e := range l.Environments {
		for _, s := range e.Sites {
			if s.Snapshot != "" {
				where[s.Snapshot] = append(where[s.Snapshot], e.Name+"/"+s.Site)
			}
		}
	}
	for _, s := range snaps {
		running := where[s.ID]
		if running == nil {
			running = []string{}
		}
		l.Snapshots = append(l.Snapshots, api.SnapshotSummary{ID: s.ID, Created: s.Created, Revision: s.Revision, Services: len(s.Artifacts), Running: running})
	}
	return l, nil
}

func (a *Agent) ladderEnv(ctx context.Context, e *spec.Environment) (api.LadderEnv, error) {
	le := api.LadderEnv{Name: e.Name, From: e.From, Target: e.Target, Protected: e.Protected, Template: e.Template, Gates: gateChips(e)}
	var live *api.Status
	switch {
	case e.Name == a.opts.Env:
		st, err := a.Status(ctx)
		if err == nil {
			live = st
		}
		le.Target = a.opts.Target.Kind()
	case !e.Template:
		if c, ok := Find(ctx, a.opts.StateDir, e.Name); ok {
			if st, err := c.Status(ctx); err == nil {
				live = st
				le.Target = st.Target
			}
		}
	}
	if live != nil {
		le.Running, le.AgentURL = true, live.Agent.URL
	}
	for _, site := range e.Sites {
		ls := api.LadderSite{Site: site.Name, Health: "not running"}
		rels, err := a.opts.Store.ListReleases(ctx, store.ReleaseFilter{Env: e.Name, Site: site.Name, Limit: 1})
		if err != nil {
			return le, err
		}
		if len(rels) > 0 {
			ls.Release = &rels[0]
		}
		good, err := a.opts.Store.ListReleases(ctx, store.ReleaseFilter{Env: e.Name, Site: site.Name, Phase: store.PhaseSucceeded, Limit: 1})
		if err != nil {
			return le, err
		}
		if len(good) > 0 {
			ls.Snapshot = good[0].Snapshot
		}
		if live != nil {
			for _, ss := range live.Sites {
				if ss.Site == site.Name {
					ls.Health = siteHealth(ss)
					for _, svc := range ss.Services {
						if t := svc.Telemetry; t != nil {
							ls.RequestRate += t.RequestRate
							ls.ErrorRate = max(ls.ErrorRate, t.ErrorRate)
						}
					}
				}
			}
		}
		le.Sites = append(le.Sites, ls)
	}
	proms, err := a.opts.Store.ListPromotions(ctx, store.PromotionFilter{To: e.Name, Limit: 3})
	if err != nil {
		return le, err
	}
	for _, pr := range proms {
		gates, err := a.opts.Store.GateResults(ctx, pr.ID)
		if err != nil {
			return le, err
		}
		le.Promotions = append(le.Promotions, api.PromotionView{Promotion: pr, Gates: gates})
	}
	if le.History, err = a.opts.Store.ListReleases(ctx, store.ReleaseFilter{Env: e.Name, Limit: 5}); err != nil {
		return le, err
	}
	if !e.Template {
		if le.RollbackTo, err = a.promoter().RollbackTarget(ctx, e.Name); err != nil {
			return le, err
		}
	}
	return le, nil
}

// siteHealth sums a site up in one word.
func siteHealth(ss api.SiteStatus) string {
	if ss.Drift != nil {
		return "drifted"
	}
	worst := "healthy"
	for _, svc := range ss.Services {
		switch svc.Health {
		case "unhealthy", "stopped":
			return "unhealthy"
		case "starting":
			worst = "starting"
		}
	}
	if len(ss.Services) == 0 {
		return "empty"
	}
	return worst
}

// gateChips describes an environment's gates for people.
func gateChips(e *spec.Environment) []string {
	var out []string
	if e.Gates.Soak > 0 {
		out = append(out, "soak "+e.Gates.Soak.String())
	}
	for _, t := range e.Gates.Tests {
		out = append(out, "test "+t.Name)
	}
	if e.Gates.Approvals > 0 {
		out = append(out, fmt.Sprintf("%d approval(s)", e.Gates.Approvals))
	}
	if promote.NeedsSignature(e) {
		out = append(out, "signed")
	}
	if e.AutoPromote {
		out = append(out, "auto")
	}
	return out
}
