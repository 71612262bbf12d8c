package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/proc"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/target/compose"
	"github.com/ladderhq/ladder/internal/target/process"
	"github.com/ladderhq/ladder/internal/watch"
)

type upOptions struct {
	env       string
	pull      string
	detach    bool
	dashboard string
	timeout   time.Duration
	watch     bool
	keep      int
	// snapshot, when set, is deployed as it is: nothing is built.
	snapshot string
	// grant admits the snapshot to a gated rung (promote.Promoter.Enter).
	grant string
}

func newUpCmd(a *app) *cobra.Command {
	var o upOptions
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Build what changed, snapshot the stack and run it",
		Long: `up builds every service whose build inputs changed (the rest come from
the cache), records the snapshot, deploys it to the environment (the first
rung, "local", by default) and waits until every service is healthy. It
then prints the services, their URLs, the snapshot ID and the dashboard,
and stays in the foreground until Ctrl-C, which takes everything down.

With -d the stack keeps running in the background; later commands (status,
logs, up, down) talk to it. Running up again while the stack runs deploys
only what changed: a changed service is started beside the old one and
replaces it once healthy; if it never becomes healthy the old one keeps
serving and up exits with code 3.

With --watch (-w) up stays in the foreground and follows the sources:
each service's Compose develop.watch rules (sync copies changed files into
the running instances, sync+restart also restarts them, restart only
restarts, rebuild makes a new snapshot and replaces the service), and, for
a Go service without develop.watch, a save in any of its local packages
rebuilds and replaces it. Every rebuild is a new snapshot and release; on a
rung with data: throwaway, snapshots beyond the newest --keep-snapshots
that no release ran are collected. A protected rung is never watched.

With --snapshot ID up builds nothing and deploys that snapshot, made
earlier here or brought by ` + "`ladder pull`" + ` from a registry that CI
pushed it to: the first rung then runs the very digests CI built, and
promotion takes them on from there.

A gated first rung (protected, signed or approvals in ladder.yaml) admits
the snapshot only once its signature verifies with a trusted key and it
has its approvals; otherwise up exits 8 and deploys nothing. A soak or gate
tests cannot pass on a first rung.`,
		Example: `  ladder up
  ladder up --watch
  ladder up -d --dashboard 127.0.0.1:0
  ladder up -d && ladder status
  ladder up -d --snapshot 3f2a9c1b`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runUp(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.env, "env", "e", "", "environment to deploy to (default: the first rung)")
	f.BoolVarP(&o.detach, "detach", "d", false, "keep the stack running in the background")
	f.StringVar(&o.dashboard, "dashboard", "", "dashboard address (default: the environment's, 127.0.0.1:7700)")
	f.BoolVar(&a.dashboardAllowRemote, "dashboard-allow-remote", false, "allow a dashboard address other machines reach (changes need a token; reads from there too)")
	f.StringVar(&a.target, "target", "", "runtime: auto, process, compose or hybrid (default: the environment's target; a site that names its own kind keeps it)")
	f.DurationVar(&o.timeout, "timeout", 0, "how long each service may take to become healthy (default: the environment's health.timeout)")
	f.BoolVarP(&o.watch, "watch", "w", false, "stay in the foreground and follow changes: develop.watch rules, and a rebuild of a Go service on save")
	f.IntVar(&o.keep, "keep-snapshots", 10, "with --watch on a data: throwaway rung: how many of the newest snapshots to keep besides those a release ran")
	f.StringVar(&o.snapshot, "snapshot", "", "deploy this snapshot (an ID or unique prefix) instead of building one")
	f.StringVar(&o.pull, "pull", "", "for image services: always (resolve the tag at the registry), missing (the pinned or the engine's copy when there is one) or never (default: each service's pull_policy, else missing)")
	return cmd
}

func (a *app) runUp(ctx context.Context, o upOptions) error {
	begun := time.Now()
	if err := checkPull(o.pull); err != nil {
		return err
	}
	ws, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer ws.Close()
	env, err := ws.environment(o.env)
	if err != nil {
		return err
	}
	if addr, err := a.checkDashboard(ws, env.Name, o.dashboard); err != nil {
		return err
	} else if addr != "" && !spec.IsLoopback(addr) {
		fmt.Fprintf(a.Err, "warning: %s\n", spec.RemoteDashboardMsg(addr))
	}
	if env.Template {
		return exitf(ExitConfig, "%s is a template for previews, not an environment to run", env.Name)
	}
	if env.From != "" {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("%s is promoted to from %s, never built and deployed directly", env.Name, env.From),
			Hint: fmt.Sprintf("ladder promote SNAPSHOT --to %s", env.Name)}
	}
	if o.snapshot != "" && o.watch {
		return exitf(ExitConfig, "--snapshot deploys a snapshot as it is; --watch rebuilds on every change: choose one")
	}
	// Refuse before building: the deploy would be refused after it.
	by, err := a.actAs(ctx, ws, env.Name, auth.ActionDeploy)
	if err != nil {
		return err
	}
	var rules []watch.Rule
	if o.watch {
		if rules, err = a.checkWatch(ctx, ws, env, o); err != nil {
			return err
		}
		// Each save loads the project to rebuild and again to deploy:
		// unchanged files are read once (spec.Cache checks their stats).
		if a.projects == nil {
			a.projects = &spec.Cache{}
		}
		ws.innerLoop = true
	}
	out := &printer{w: a.Out, quiet: a.json()}
	rec := &deploy.Recorder{Store: ws.store, Logger: a.logger()}
	if err := a.recover(ctx, ws, rec, env.Name, out); err != nil {
		return err
	}
	client, running := agent.Find(ctx, ws.stateDir, env.Name)
	if running && !a.json() {
		if kind, err := a.targetKind(ctx, ws, env.Name); err == nil {
			printWarnings(a.Err, ws.project, kind)
		}
	}
	if !running {
		// Settle where the stack will run before building anything, so
		// an unreachable engine is reported at once.
		places, err := a.sitePlacements(ctx, ws, env.Name, false)
		if err != nil {
			return err
		}
		kind := ""   // the environment's, for the sites that take it
		own := false // a site names its own kind or engine
		for _, s := range env.Sites {
			p := places[s.Name]
			// Go services run as processes there: under --watch, each
			// rebuild's image is unpacked while its deploy is prepared.
			if o.watch && (p.kind == spec.KindProcess || p.kind == spec.KindHybrid) {
				ws.unpackAhead = true
			}
			if s.Target != (spec.SiteTarget{}) {
				own = true
			} else if kind == "" {
				kind = p.kind
			}
			if p.kind == spec.KindCompose {
				c, err := compose.Dial(ctx, p.engine)
				if err != nil {
					return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s/%s: %w", env.Name, s.Name, err)}
				}
				c.Close()
			}
		}
		if kind == "" {
			kind = places[env.Sites[0].Name].kind
		}
		if !own {
			// Pinned, so the agent does not ask the engine again.
			a.target = kind
		}
		if !a.json() {
			printWarnings(a.Err, ws.project, kind)
		}
	}
	if err := a.refuseImagesOn(ctx, ws, env.Name, client, running); err != nil {
		return err
	}

	made, err := a.snapshotForUp(ctx, ws, o, out)
	if err != nil {
		return err
	}
	var sites []string
	for _, s := range env.Sites {
		sites = append(sites, s.Name)
	}
	deploy.RecordMade(rec, made, env.Name, sites)
	if o.snapshot != "" {
		// Made elsewhere or earlier: it keeps the signature it has.
	} else if err := a.sealSnapshot(ctx, ws, made, out); err != nil {
		// An unsigned snapshot still runs here; protected rungs refuse it.
		fmt.Fprintf(a.Err, "warning: snapshot %s not signed: %v\n", snapshot.Short(made.Snapshot.ID), err)
	}
	snap := made.Snapshot
	state := "unchanged"
	if made.Created {
		state = "new"
	}
	pulled := ""
	if n := len(made.Report.Pulled); n > 0 {
		pulled = fmt.Sprintf(", %d pulled", n)
	}
	if o.snapshot != "" {
		out.printf("snapshot %s (%d services, deployed as it is: nothing built)\n", snapshot.Short(snap.ID), len(snap.Artifacts))
	} else {
		out.printf("snapshot %s (%s, %s built, %d unchanged%s, build %s)\n", snapshot.Short(snap.ID), state, plural(len(made.Report.Built), "service"), len(made.Report.Cached), pulled, round(made.Report.BuildTime))
	}

	if env.Registry != nil {
		// The rung's engine pulls from its registry: the images go there
		// first, as a promotion would send them.
		if err := a.pushImages(ws)(ctx, env, snap); err != nil {
			return imageErr(err)
		}
	}

	// The environment's lease, from here until the release is made (and
	// auto-promoted): a promotion, rollback, down or another up of the
	// environment meanwhile waits a moment, then is refused as busy,
	// instead of replacing what this one deploys (or starting a second
	// agent).
	held, err := a.holdEnv(ctx, ws, env.Name)
	if err != nil {
		return err
	}
	defer held.Release()
	// A gated first rung admits the snapshot only once the gates it can
	// hold (signature, approvals) pass.
	if o.grant, err = a.promoter(ws).Enter(ctx, env.Name, snap.ID, by); err != nil {
		return err
	}
	if !running {
		// Another command may have started the agent while this one built.
		client, running = agent.Find(ctx, ws.stateDir, env.Name)
	}
	if running && o.watch {
		return &ExitError{Code: ExitConfig, Err: fmt.Errorf("%s already runs in the background (agent pid %d); --watch runs it in the foreground", env.Name, client.Info.PID),
			Hint: "ladder down --env " + env.Name + ", then ladder up --watch"}
	}
	if running {
		return a.upViaAgent(ctx, ws, client, made, env.Name, o, out, begun, false)
	}
	if o.detach {
		c, err := a.startAgent(ctx, ws, env.Name, o.dashboard)
		if err != nil {
			return err
		}
		return a.upViaAgent(ctx, ws, c, made, env.Name, o, out, begun, true)
	}
	return a.upForeground(ctx, ws, env.Name, made, o, out, begun, rules, held.Release)
}

// snapshotForUp builds and records the snapshot up deploys, or, with
// --snapshot, finds the one asked for and checks that this project can
// render it (its stack definition is archived here).
func (a *app) snapshotForUp(ctx context.Context, ws *workspace, o upOptions, out *printer) (*deploy.Made, error) {
	if o.snapshot == "" {
		out.printf("building %s\n", ws.project.Stack.Name)
		b := ws.newBuilder(out.build)
		defer b.Close()
		made, err := deploy.MakeSnapshotWith(ctx, ws.project, ws.store, b, ws.stateDir, a.pinOptions(ws, o.pull))
		if err != nil {
			return nil, imageErr(err)
		}
		return made, nil
	}
	ref, err := resolveSnapshot(ctx, ws, o.snapshot)
	if err != nil {
		return nil, err
	}
	snap, err := ws.store.GetSnapshot(ctx, ref)
	if err != nil {
		return nil, notFound(err)
	}
	if _, err := deploy.ProjectFor(ctx, ws.project, ws.stateDir, a.loadOptions(), snap); err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: fmt.Errorf("snapshot %s cannot be deployed here: %w", snapshot.Short(snap.ID), err)}
	}
	rep := &build.Report{}
	for name := range snap.Artifacts {
		rep.Cached = append(rep.Cached, name)
	}
	sort.Strings(rep.Cached)
	return &deploy.Made{Snapshot: snap, Report: rep}, nil
}

// holdEnv takes env's lease for this command, waiting a few seconds for
// another holder; a holder that keeps it is reported as busy (exit 7).
func (a *app) holdEnv(ctx context.Context, ws *workspace, env string) (*lease.Held, error) {
	held, err := lease.Acquire(ctx, ws.store, lease.EnvName(env), lease.Self(), lease.Options{Wait: lease.Wait})
	var busy *lease.BusyError
	if errors.As(err, &busy) {
		h := busy.Lease.Holder
		return nil, &ExitError{Code: ExitBusy,
			Err:  fmt.Errorf("%s is busy: another ladder command (pid %d on %s) is changing it (promote, rollback, up or down)", env, h.PID, h.Host),
			Hint: "wait for it to finish, then run this again"}
	}
	return held, err
}

// recover closes what a killed ladder left behind before doing anything.
func (a *app) recover(ctx context.Context, ws *workspace, rec *deploy.Recorder, env string, out *printer) error {
	closed, err := deploy.Recover(ctx, ws.store, rec)
	if err != nil {
		return fmt.Errorf("recovering interrupted releases: %w", err)
	}
	for _, r := range closed {
		out.printf("recovered: release %d (snapshot %s on %s/%s) was interrupted and is recorded so\n", r.Number, snapshot.Short(r.Snapshot), r.Env, r.Site)
	}
	reaped, stopped, err := process.Reap(ctx, ws.store)
	if err != nil {
		return fmt.Errorf("stopping instances left behind: %w", err)
	}
	if stopped > 0 {
		out.printf("recovered: stopped %d instance(s) left running by a ladder process that is gone\n", stopped)
	}
	if gone := len(reaped) - stopped; gone > 0 {
		out.printf("recovered: forgot %d instance(s) that ended with the ladder process that ran them\n", gone)
	}
	return nil
}

// upViaAgent deploys through a running agent. An agent this command
// started for a first release that failed is stopped again, so a failed
// `up -d` leaves nothing running.
func (a *app) upViaAgent(ctx context.Context, ws *workspace, c *agent.Client, made *deploy.Made, env string, o upOptions, out *printer, begun time.Time, started bool) error {
	out.printf("deploying to %s (agent pid %d)\n", env, c.Info.PID)
	req := api.DeployRequest{Snapshot: made.Snapshot.ID, Grant: o.grant}
	if o.timeout > 0 {
		req.HealthTimeout = o.timeout.String()
	}
	stopFollow := a.followProgress(ctx, c, env, out)
	res, err := c.Deploy(ctx, req)
	stopFollow()
	if err != nil && ctx.Err() != nil {
		// Ctrl-C stops watching, not the deploy: the agent owns it now.
		return &ExitError{Code: ExitInterrupted, Err: fmt.Errorf("stopped watching the deploy to %s; it goes on in the agent (pid %d)", env, c.Info.PID), Hint: "ladder status --env " + env}
	}
	if err != nil {
		if started {
			downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			_ = c.Down(downCtx)
		}
		return a.deployFailed(res, err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if err := a.upSummary(made, res, st, out, time.Since(begun), true); err != nil {
		return err
	}
	return a.autoPromote(ctx, ws, env, made.Snapshot.ID, out)
}

func (a *app) deployFailed(res *api.DeployResult, err error) error {
	if a.json() && res != nil {
		_ = a.printJSON(res)
	}
	return deployFailErr(res, err)
}

// deployFailErr is a failed deploy as a command reports it: the error with
// the last lines of the failing service's output, and the exit code.
func deployFailErr(res *api.DeployResult, err error) error {
	msg := err.Error()
	if res != nil && len(res.LastLines) > 0 {
		msg += "\nlast lines of its output:"
		for _, l := range res.LastLines {
			msg += "\n  | " + l
		}
	}
	code := ExitUnhealthy
	if Code(err) != ExitFailure {
		code = Code(err)
	}
	hint := "`ladder logs SERVICE` shows the whole output; the previous release (if any) is still running"
	if res == nil {
		hint = ""
	}
	return &ExitError{Code: code, Err: errors.New(msg), Hint: hint, deploy: res}
}

// upResult is `up -o json`.
type upResult struct {
	Snapshot *snapshot.Snapshot `json:"snapshot"`
	Build    *build.Report      `json:"build"`
	Deploy   *api.DeployResult  `json:"deploy"`
	Status   *api.Status        `json:"status"`
}

func (a *app) upSummary(made *deploy.Made, res *api.DeployResult, st *api.Status, out *printer, took time.Duration, detached bool) error {
	// The registry's answers on moved tags came in while the deploy ran.
	made.Report.WaitMoved()
	out.moved(made.Report)
	if a.json() {
		return a.printJSON(upResult{Snapshot: made.Snapshot, Build: made.Report, Deploy: res, Status: st})
	}
	if res.Release == 0 {
		out.printf("nothing to change: %s/%s already runs snapshot %s\n", res.Environment, res.Site, snapshot.Short(res.Snapshot))
	} else {
		out.printf("release %d: %s/%s runs snapshot %s (%s)\n", res.Number, res.Environment, res.Site, snapshot.Short(res.Snapshot), round(took))
	}
	printStatus(a.Out, st)
	if detached {
		out.printf("running in the background; `ladder down` stops it\n")
	} else {
		out.printf("press Ctrl-C to stop\n")
	}
	return nil
}

// upForeground runs the agent in this process until interrupted.
func (a *app) upForeground(ctx context.Context, ws *workspace, env string, made *deploy.Made, o upOptions, out *printer, begun time.Time, rules []watch.Rule, releaseEnv func()) error {
	by, err := a.actAs(ctx, ws, env, auth.ActionDeploy)
	if err != nil {
		return err
	}
	ag, err := a.newAgent(ws, env, o.dashboard)
	if err != nil {
		return err
	}
	fellBack, err := ag.Listen()
	if err != nil {
		return err
	}
	if fellBack {
		out.printf("dashboard address in use; serving on %s instead\n", ag.URL())
	}
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	runDone := make(chan error, 1)
	go func() { runDone <- ag.Run(runCtx) }()

	out.printf("deploying to %s\n", env)
	res, err := ag.DeployWith(ctx, made.Snapshot.ID, agent.DeployOptions{HealthTimeout: o.timeout, By: by, Grant: o.grant, Progress: out.deploy, Plan: func(p *plan.Plan) {
		if a.verbose {
			out.printf("%s", p)
		}
	}})
	if err != nil {
		// Nothing was running before: take down whatever is left and stop.
		cancelRun()
		<-runDone
		if ctx.Err() != nil {
			out.printf("interrupted: everything started was taken down\n")
			return &ExitError{Code: ExitInterrupted, Err: ctx.Err(), Reported: true}
		}
		return a.deployFailed(res, err)
	}
	st, err := ag.Status(ctx)
	if err != nil {
		cancelRun()
		<-runDone
		return err
	}
	// A foreground stack does not auto-promote itself; a later `up`
	// while it runs does, and Ctrl-C here stops those rungs too.
	err = a.upSummary(made, res, st, out, time.Since(begun), false)
	if err == nil {
		for _, e := range ws.project.Ladder.Environments {
			if e.From == env && e.AutoPromote && !e.Template {
				out.printf("(%s has autoPromote: a later `ladder up` while this runs, or `ladder up -d`, also deploys each new snapshot to %s; Ctrl-C here stops %s too)\n", e.Name, e.Name, e.Name)
			}
		}
	}
	if err != nil {
		cancelRun()
		<-runDone
		return err
	}
	// The release is made: the environment is free for other commands
	// while this one keeps it running.
	releaseEnv()
	watchDone := make(chan error, 1)
	stopWatching := func() {}
	if o.watch {
		e, _ := ws.environment(env)
		w := &watcher{a: a, ws: ws, ag: ag, env: e, o: o, out: out, keep: o.keep, by: by}
		watchCtx, stopWatch := context.WithCancel(ctx)
		go func() {
			select {
			case <-ag.Done():
			case <-watchCtx.Done():
			}
			stopWatch()
		}()
		watching := make(chan error, 1)
		go func() {
			err := w.run(watchCtx, rules)
			watching <- err
			if err != nil {
				watchDone <- err
			}
		}()
		var once sync.Once
		stopWatching = func() { once.Do(func() { stopWatch(); <-watching }) }
		defer stopWatching()
	}
	select {
	case err := <-watchDone:
		// Watching could not start: stop as Ctrl-C would.
		out.printf("%v\nstopping %s...\n", err, env)
		cancelRun()
	case <-ctx.Done():
		out.printf("\nstopping %s...\n", env)
		// Rungs auto-promoted from this one (by a later `ladder up` while
		// it ran) would outlive the stack they came from: stop them too.
		a.downAutoPromoted(context.WithoutCancel(ctx), ws, env, out)
		cancelRun()
	case <-ag.Done():
		out.printf("stopping %s (ladder down)...\n", env)
	case err := <-runDone:
		return err
	}
	// A rebuild under way is undone before the agent stops.
	stopWatching()
	if err := <-runDone; err != nil {
		return err
	}
	out.printf("stopped\n")
	return nil
}

// downAutoPromoted stops, last rung first, every running rung that
// auto-promotes from env (directly or through another such rung), and
// says so.
func (a *app) downAutoPromoted(ctx context.Context, ws *workspace, env string, out *printer) {
	var chain []string
	for from := []string{env}; len(from) > 0; {
		next := from[0]
		from = from[1:]
		for _, e := range ws.project.Ladder.Environments {
			if e.From == next && e.AutoPromote && !e.Template {
				chain = append(chain, e.Name)
				from = append(from, e.Name)
			}
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		c, ok := agent.Find(ctx, ws.stateDir, chain[i])
		if !ok {
			continue
		}
		downCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
		err := c.Down(downCtx)
		cancel()
		if err != nil {
			out.printf("could not stop %s (auto-promoted from %s): %v; `ladder down --env %s` stops it\n", chain[i], env, err, chain[i])
			continue
		}
		out.printf("stopped %s too (auto-promoted from %s)\n", chain[i], env)
	}
}

// checkDashboard refuses a dashboard address other machines reach unless
// the flag or the environment allows it. It returns the address used.
func (a *app) checkDashboard(ws *workspace, env, dashboard string) (string, error) {
	allowed := a.dashboardAllowRemote
	if e, err := ws.environment(env); err == nil {
		if dashboard == "" {
			dashboard = e.Dashboard
		}
		allowed = allowed || e.DashboardAllowRemote
	}
	if dashboard == "" || spec.IsLoopback(dashboard) || allowed {
		return dashboard, nil
	}
	return "", &ExitError{Code: ExitConfig, Err: errors.New(spec.RemoteDashboardMsg(dashboard)),
		Hint: "--dashboard 127.0.0.1:PORT, or --dashboard-allow-remote if it is meant"}
}

func (a *app) newAgent(ws *workspace, env, dashboard string) (*agent.Agent, error) {
	if _, err := a.checkDashboard(ws, env, dashboard); err != nil {
		return nil, err
	}
	owner := proc.Owner()
	rec := &deploy.Recorder{Store: ws.store, Logger: a.logger()}
	tgt, err := a.newTarget(context.Background(), ws, env, owner, rec)
	if err != nil {
		return nil, err
	}
	return agent.New(agent.Options{
		Dir: ws.project.Dir, Load: a.loadOptions(), Project: ws.project, Env: env,
		StateDir: ws.stateDir, Store: ws.store, Builder: ws.builder, Target: tgt,
		Addr: dashboard, Logger: a.logger(), Verify: a.verifier(ws),
		Secrets: ws.secrets().Values, Redactor: ws.redactor,
		Alert:    func(msg string) { fmt.Fprintf(a.Err, "ladder: %s\n", msg) },
		Resume:   a.resume,
		Projects: a.projects,
		StartEnv: func(ctx context.Context, env string) (*agent.Client, error) {
			if a.inEngine != nil {
				return a.inEngine(ctx, env)
			}
			return a.startAgent(ctx, ws, env, "")
		},
	})
}

// autoPromote promotes a snapshot that just became healthy on env to every
// rung that promotes from env with autoPromote set. A blocked gate is
// reported, not an error: the snapshot is where it was asked to be.
func (a *app) autoPromote(ctx context.Context, ws *workspace, env, id string, out *printer) error {
	for _, e := range ws.project.Ladder.Environments {
		if e.From != env || !e.AutoPromote || e.Template || runsEverywhere(ctx, ws, e.Name, e.Sites, id) {
			continue
		}
		out.printf("promoting snapshot %s to %s (autoPromote in ladder.yaml)...\n", snapshot.Short(id), e.Name)
		by, err := a.actAs(ctx, ws, e.Name, auth.ActionPromote)
		if err != nil {
			out.printf("not promoting to %s: %v\n", e.Name, err)
			continue
		}
		res, err := a.promoter(ws).Promote(ctx, promote.Request{Snapshot: id, To: e.Name, By: by, Why: "autoPromote from " + env})
		var blocked *promote.BlockedError
		switch {
		case errors.As(err, &blocked):
			out.printf("  not promoted: %s\n", res.Promotion.Reason)
		case err != nil:
			out.printf("  promotion to %s failed: %v\n", e.Name, err)
		default:
			// The rung runs on after this command (and after the stack it
			// came from stops): say so, and how to stop it.
			out.printf("auto-promoted snapshot %s to %s (autoPromote in ladder.yaml); %s keeps running: `ladder down --env %s` stops it\n",
				snapshot.Short(id), e.Name, e.Name, e.Name)
		}
	}
	return nil
}

// runsEverywhere reports whether every site of env already runs snapshot
// id, so an auto-promotion would change nothing.
func runsEverywhere(ctx context.Context, ws *workspace, env string, sites []spec.Site, id string) bool {
	for _, site := range sites {
		rels, err := ws.store.ListReleases(ctx, store.ReleaseFilter{Env: env, Site: site.Name, Phase: store.PhaseSucceeded, Limit: 1})
		if err != nil || len(rels) == 0 || rels[0].Snapshot != id {
			return false
		}
	}
	return true
}

// followProgress prints, while a deploy runs in the agent, what happens to
// env's instances (as the agent records it), so a detached up shows the
// same progress as a foreground one. Events of other environments (the
// store is shared by every rung) are not this deploy's. The returned func
// stops following after a last read, so what happened just before the
// deploy returned (the last service turning healthy) is printed too.
func (a *app) followProgress(ctx context.Context, c *agent.Client, env string, out *printer) func() {
	if out.quiet {
		return func() {}
	}
	last := int64(0)
	if evs, err := c.Events(ctx, 0); err == nil && len(evs) > 0 {
		last = evs[len(evs)-1].ID
	}
	read := func(ctx context.Context) {
		evs, err := c.Events(ctx, last)
		if err != nil {
			return
		}
		for _, e := range evs {
			last = e.ID
			if line, ok := progressLine(e, env); ok {
				out.printf("%s\n", line)
			}
		}
	}
	loopCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			read(loopCtx)
			select {
			case <-loopCtx.Done():
				return
			case <-time.After(150 * time.Millisecond):
			}
		}
	}()
	return func() {
		cancel()
		<-done
		if ctx.Err() == nil {
			read(ctx)
		}
	}
}

// progressLine is how `up` shows an event of a deploy to env, if at all.
func progressLine(e store.Event, env string) (string, bool) {
	if e.Env != env {
		return "", false
	}
	switch {
	case e.Kind == store.EventInstanceStarted:
		return fmt.Sprintf("  • %-16s %s", e.Service, strings.TrimPrefix(e.Message, e.Service+" ")), true
	case e.Kind == store.EventHealthChanged && e.Attrs["to"] == "healthy":
		// Name the instance: with replicas, one line each.
		instance := ""
		if f := strings.Fields(strings.TrimPrefix(e.Message, e.Service+" ")); len(f) > 0 {
			instance = f[0]
		}
		return strings.TrimRight(fmt.Sprintf("  ✓ %-16s healthy   %s", e.Service, instance), " "), true
	case e.Kind == store.EventHealthChanged && e.Attrs["to"] == "unhealthy", e.Kind == store.EventRestarted:
		return fmt.Sprintf("  ✗ %-16s %s", e.Service, strings.TrimPrefix(e.Message, e.Service+" ")), true
	}
	return "", false
}
