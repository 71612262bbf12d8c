package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/watch"
)

// watchRules returns what `up --watch` follows: each service's
// develop.watch rules, and for a Go service without them the directories
// of the local packages it is built from (a save there rebuilds it).
func watchRules(ctx context.Context, p *spec.Project) ([]watch.Rule, error) {
	goCtx := build.GoContexts(p.Stack)
	names := make([]string, 0, len(p.Stack.Compose.Services))
	for name := range p.Stack.Compose.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	var rules []watch.Rule
	for _, name := range names {
		svc := p.Stack.Compose.Services[name]
		if svc.Develop != nil && len(svc.Develop.Watch) > 0 {
			r, err := watch.FromDevelop(name, p.Stack.Compose.WorkingDir, svc.Develop)
			if err != nil {
				return nil, err
			}
			rules = append(rules, r...)
			continue
		}
		if dir, ok := goCtx[name]; ok {
			dirs, err := watch.GoDirs(ctx, dir)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", name, err)
			}
			rules = append(rules, watch.GoRules(name, dirs)...)
		}
	}
	return rules, nil
}

// watcher is `up --watch` after the first release: it follows the rules
// and turns each batch of changes into syncs, restarts and rebuilds.
type watcher struct {
	a   *app
	ws  *workspace
	ag  *agent.Agent
	env *spec.Environment
	o   upOptions
	out *printer
	// keep is how many snapshots of this stack a throwaway rung keeps.
	keep int
	// by is who the releases are recorded as.
	by string
}

// run watches until ctx ends.
func (w *watcher) run(ctx context.Context, rules []watch.Rule) error {
	fw, err := watch.New(rules, w.a.logger())
	if err != nil {
		return fmt.Errorf("watching the sources: %w", err)
	}
	defer fw.Close()
	w.out.printf("watching for changes:\n")
	for _, line := range describeRules(rules) {
		w.out.printf("  %s\n", line)
	}
	return fw.Run(ctx, func(batch context.Context, paths []string) bool {
		steps := watch.Plan(rules, paths)
		return len(steps) > 0 && w.apply(ctx, batch, steps)
	})
}

// describeRules is one line per service and action: Go package rules are
// counted, not listed.
func describeRules(rules []watch.Rule) []string {
	var lines []string
	goDirs := map[string]int{}
	var order []string
	for _, r := range rules {
		if r.Action == watch.Rebuild && !r.Recursive {
			if goDirs[r.Service] == 0 {
				order = append(order, r.Service)
			}
			goDirs[r.Service]++
			continue
		}
		lines = append(lines, r.String())
	}
	for _, s := range order {
		lines = append(lines, fmt.Sprintf("%s: rebuild on a save in its Go packages (%d directories)", s, goDirs[s]))
	}
	sort.Strings(lines)
	return lines
}

// apply carries out one batch's steps: syncs and restarts in place, then
// one rebuild for all the services that need it (a new snapshot). Syncs,
// restarts and deploys run to their end; the rebuild is dropped when batch
// ends because newer changes came in before its deploy, and apply reports
// that it was.
func (w *watcher) apply(ctx, batch context.Context, steps []watch.Step) (dropped bool) {
	syncer, _ := w.ag.Target().(target.Syncer)
	for _, s := range steps {
		if s.Action == watch.Rebuild {
			continue
		}
		begun := time.Now()
		if syncer == nil {
			w.out.printf("  ✗ %-16s the %s target cannot %s in place\n", s.Service, w.ag.Target().Kind(), s.Action)
			continue
		}
		for _, site := range w.env.Sites {
			ref := render.SiteRef{Env: w.env.Name, Site: site.Name}
			var err error
			switch s.Action {
			case watch.Sync:
				files := make([]target.SyncFile, len(s.Files))
				for i, f := range s.Files {
					files[i] = target.SyncFile{Src: f.Src, Dst: f.Dst}
				}
				err = syncer.Sync(ctx, ref, s.Service, files)
			case watch.Restart:
				err = syncer.Restart(ctx, ref, s.Service)
			}
			if err != nil {
				w.out.printf("  ✗ %-16s %s failed: %v\n", s.Service, s.Action, err)
				continue
			}
		}
		switch s.Action {
		case watch.Sync:
			w.out.printf("  ✓ %-16s synced %s (%s)\n", s.Service, plural(len(s.Files), "file"), round(time.Since(begun)))
		case watch.Restart:
			w.out.printf("  ✓ %-16s restarted\n", s.Service)
		}
	}
	if watch.NeedsRebuild(steps) {
		return w.rebuild(ctx, batch, steps)
	}
	return false
}

// rebuild makes a new snapshot of the stack as it is on disk and deploys
// it through the normal path: start beside, await healthy, stop the old.
// A failed build or deploy leaves the running release as it is. A rebuild
// that newer changes supersede before its deploy (batch ends with
// watch.ErrSuperseded) is dropped, and says so: the next batch builds the
// files as they are then.
func (w *watcher) rebuild(ctx, batch context.Context, steps []watch.Step) (dropped bool) {
	begun := time.Now()
	var names []string
	for _, s := range steps {
		if s.Action == watch.Rebuild {
			names = append(names, s.Service)
		}
	}
	w.out.printf("changed: %s\n", strings.Join(names, ", "))
	p, err := w.a.load(ctx)
	if err != nil {
		w.out.printf("  ✗ the stack does not load; still running the last release:\n%v\n", err)
		return false
	}
	loaded := time.Now()
	b := w.ws.newBuilder(func(ev build.Progress) {
		if ev.State == build.StateBuilt || ev.State == build.StateFailed {
			w.out.build(ev)
		}
	})
	defer b.Close()
	made, err := deploy.MakeSnapshotWith(batch, p, w.ws.store, b, w.ws.stateDir, w.a.pinOptions(w.ws, w.o.pull))
	switch {
	case ctx.Err() != nil:
		return false
	case errors.Is(context.Cause(batch), watch.ErrSuperseded):
		// Built or not, what is on disk is newer: deploy that instead.
		w.out.printf("  ~ newer changes came in: building those instead\n")
		return true
	case err != nil:
		w.out.printf("  ✗ build failed; still running the last release:\n%v\n", err)
		return false
	}
	built := time.Now()
	rec := &deploy.Recorder{Store: w.ws.store, Logger: w.a.logger()}
	var sites []string
	for _, s := range w.env.Sites {
		sites = append(sites, s.Name)
	}
	deploy.RecordMade(rec, made, w.env.Name, sites)
	recorded := time.Now()
	res, err := w.ag.DeployWith(ctx, made.Snapshot.ID, agent.DeployOptions{HealthTimeout: w.o.timeout, By: w.by})
	w.a.logger().Debug("rebuilt", "snapshot", snapshot.Short(made.Snapshot.ID),
		"load", loaded.Sub(begun), "build", built.Sub(loaded), "record", recorded.Sub(built), "deploy", time.Since(recorded))
	switch {
	case err != nil && ctx.Err() != nil:
		return false
	case err != nil:
		w.out.printf("  ✗ snapshot %s did not deploy; still running the last release: %v\n", snapshot.Short(made.Snapshot.ID), err)
		return false
	case res.Release == 0:
		w.out.printf("  = snapshot %s: nothing changed\n", snapshot.Short(made.Snapshot.ID))
	default:
		w.out.printf("  ✓ snapshot %s serving (release %d, %s after the change)\n", snapshot.Short(made.Snapshot.ID), res.Release, round(time.Since(begun)+watch.Coalesce))
	}
	w.collect(ctx, p)
	return false
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// collect deletes, on a data: throwaway rung, the snapshots of the stack
// beyond the newest --keep-snapshots that never left the rung, with the
// rung's releases of them: a save is a
// snapshot, and a morning of saves should not fill the store. Elsewhere
// every snapshot is kept as history.
func (w *watcher) collect(ctx context.Context, p *spec.Project) {
	if w.env.Data != spec.DataThrowaway {
		return
	}
	ids, err := w.ws.store.CollectSnapshots(ctx, p.Stack.Name, w.env.Name, w.keep)
	if err != nil {
		w.out.printf("  ! collecting old snapshots: %v\n", err)
		return
	}
	if len(ids) > 0 {
		w.a.logger().Info("collected throwaway snapshots", "count", len(ids), "kept", w.keep)
	}
}

// checkWatch refuses --watch where it does not belong and returns the
// rules it will follow; a develop.watch section that is wrong is a
// configuration error.
func (a *app) checkWatch(ctx context.Context, ws *workspace, env *spec.Environment, o upOptions) ([]watch.Rule, error) {
	switch {
	case o.detach:
		return nil, exitf(ExitConfig, "--watch runs in the foreground; it does not go with -d")
	case env.Protected:
		return nil, exitf(ExitConfig, "%s is protected: it runs signed snapshots only, never files changed in place; --watch is for unprotected rungs", env.Name)
	case promote.PolicyOf(env).Gated():
		return nil, exitf(ExitConfig, "%s is gated (%s): every rebuild would have to pass them; --watch is for rungs without gates", env.Name, strings.Join(promote.PolicyOf(env).Gates(), ", "))
	case o.keep < 1:
		return nil, exitf(ExitConfig, "--keep-snapshots must be at least 1")
	}
	rules, err := watchRules(ctx, ws.project)
	if err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: err}
	}
	if len(rules) == 0 {
		return nil, exitf(ExitConfig, "nothing to watch: no service has develop.watch, and none is built from Go sources")
	}
	return rules, nil
}
