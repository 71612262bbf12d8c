package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/engine"
	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

type serveOptions struct {
	envs       []string
	dashboard  string
	background bool
	listen     string
	proxies    []string
}

func newServeCmd(a *app) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the engine that owns every environment of the store",
		Long: `serve runs ladder's engine in the foreground: one process that owns every
environment of the project's store, with each environment's dashboard and
API, its telemetry, drift watch and deploys. Later commands (up, promote,
rollback, status, down) on this machine find it and go through it.

On a laptop nothing needs to start it: ` + "`ladder up -d`" + ` starts one in the
background when none runs, and it ends when its last environment is taken
down. serve is the same engine for a team: point LADDER_STORE at the
team's PostgreSQL and run it on the machine the environments deploy from.

promote, rollback and approve are done by the engine (a command sends
them over the socket). With --listen it also takes them from other
machines: a
command there with LADDER_SERVER=http(s)://HOST:PORT and LADDER_TOKEN
needs no project or store (status --env ENV too). Every request over TCP
needs a token, and the verbs act as its identity, with its roles. An
address that sends 20 bad tokens in a minute gets 429 for the rest of that
minute; behind a reverse proxy, name it with --trusted-proxy so that the
client's address (X-Forwarded-For) is counted, not the proxy's.

Only one engine owns a store at a time, through a lease in the store.
A second serve on the same store waits as a standby and takes over within
seconds once the first stops renewing its lease (killed, or cut off from
the store): it first closes what the first left half done, then starts the
environments. While it waits it unpacks and checks the images that the
process-target sites run, so that they resume sooner, and then says
"standby: ready to take over": what a rolling upgrade waits for before it
stops the engine it replaces.

Without --env, every environment of ladder.yaml (templates aside) is
started; with --env, those named. Ctrl-C (or SIGTERM) ends the engine and
leaves the environments to the engine that follows (the standby, or the
next serve): containers keep running and are taken on as they are;
instances of the process target, which cannot outlive the engine that
supervises them, are stopped gracefully (as ladder down stops them), and
the next one starts them again from their last release.
` + "`ladder down`" + ` is what stops environments.`,
		Example: `  ladder serve
  ladder serve --env staging --env prod
  ladder serve --listen 127.0.0.1:7800                    # then: LADDER_SERVER=http://127.0.0.1:7800 LADDER_TOKEN=... ladder promote ...
  ladder serve --listen 127.0.0.1:7800 --trusted-proxy 127.0.0.1   # behind a TLS proxy on this machine
  LADDER_STORE=postgres://ladder@db/ladder ladder serve   # a team's engine; run a second for a standby`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runServe(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.envs, "env", "e", nil, "environment to start (repeatable; default: every one)")
	f.StringVar(&o.dashboard, "dashboard", "", "dashboard address of the one environment --env names")
	f.StringVar(&o.listen, "listen", "", "also serve the API for other machines on this address (HOST:PORT; every request needs a token)")
	f.StringArrayVar(&o.proxies, "trusted-proxy", nil, "address or CIDR of a reverse proxy in front of --listen, whose X-Forwarded-For names the client (repeatable)")
	f.BoolVar(&a.dashboardAllowRemote, "dashboard-allow-remote", false, "allow dashboard addresses other machines reach (changes need a token; reads from there too)")
	f.StringVar(&a.target, "target", "", "runtime of the environments started here: auto, process, compose or hybrid")
	f.BoolVar(&o.background, "background", false, "run as the background engine `up -d` starts: give up when another engine owns the store, end with the last environment")
	_ = f.MarkHidden("background")
	_ = cmd.RegisterFlagCompletionFunc("env", a.completeEnvs)
	return cmd
}

func (a *app) runServe(ctx context.Context, o serveOptions) error {
	if o.dashboard != "" && len(o.envs) != 1 {
		return exitf(ExitConfig, "--dashboard sets the address of one environment: name it with --env")
	}
	// The engine reads the project's files again only when they change.
	a.projects = &spec.Cache{}
	ws, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer ws.Close()
	envs := o.envs
	for _, name := range envs {
		if _, err := ws.environment(name); err != nil {
			return err
		}
	}
	if len(envs) == 0 && !o.background {
		for _, e := range ws.project.Ladder.Environments {
			if !e.Template {
				envs = append(envs, e.Name)
			}
		}
	}
	logger := slog.New(slog.NewTextHandler(a.Err, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if a.verbose {
		logger = slog.New(slog.NewTextHandler(a.Err, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var authn auth.Authenticator = &auth.TokenAuthenticator{Store: ws.store}
	authn = auth.WithLocalFallback(authn, ws.stateDir)
	eo := engine.Options{
		StateDir: ws.stateDir, Store: ws.store, Auth: authn, Logger: logger,
		Served: !o.background,
		New: func(ctx context.Context, req engine.RunRequest) (engine.Runner, error) {
			ag, err := a.agentFor(ctx, ws, req, !o.background)
			if err != nil {
				return nil, err
			}
			return ag, nil
		},
	}
	// A standby readies what taking over needs first, until it takes over.
	warmCtx, stopWarm := context.WithCancel(ctx)
	defer stopWarm()
	if !o.background {
		// A background engine leaves recovery to the verbs it serves and
		// the commands that use it, which recover what they find before
		// they act and say so.
		eo.TakeOver = func(ctx context.Context) error {
			stopWarm()
			return a.takeOver(ctx, ws, logger)
		}
	}
	if o.background {
		// Long enough for a killed engine's lease to lapse; an engine
		// that keeps it runs the store, and the command that started
		// this one uses it.
		eo.Wait = lease.TTL + lease.Every
	} else {
		eo.Wait = -1
		eo.OnStandby = func(l store.Lease) {
			h := l.Holder
			fmt.Fprintf(a.Err, "standby: the engine of this store runs as pid %d on %s (instance %s); this one takes over when that one stops renewing its lease\n", h.PID, h.Host, h.Instance)
			go a.warmStandby(warmCtx, ws, logger)
		}
	}
	if o.listen != "" {
		if !spec.IsLoopback(o.listen) && !a.dashboardAllowRemote {
			return &ExitError{Code: ExitConfig, Err: fmt.Errorf("--listen %s is reachable from other machines", o.listen),
				Hint: "put it behind TLS (a reverse proxy), then add --dashboard-allow-remote; or listen on 127.0.0.1"}
		}
		eo.Listen = o.listen
		if eo.TrustedProxies, err = parseProxies(o.proxies); err != nil {
			return err
		}
	} else if len(o.proxies) > 0 {
		return exitf(ExitConfig, "--trusted-proxy names the proxies in front of --listen: add --listen")
	}
	verbs := &engineVerbs{a: a, ws: ws}
	eo.Routes = verbs.routes
	e := engine.New(eo)
	verbs.e = e
	a.inEngine = func(ctx context.Context, env string) (*agent.Client, error) {
		info, err := e.Run(ctx, engine.RunRequest{Env: env, Target: a.target})
		if err != nil {
			return nil, err
		}
		return agent.Await(ctx, ws.stateDir, env, info.URL)
	}
	err = e.Start(ctx)
	stopWarm()
	if err != nil {
		var busy *lease.BusyError
		if errors.As(err, &busy) {
			h := busy.Lease.Holder
			return &ExitError{Code: ExitBusy, Err: fmt.Errorf("the engine of this store runs as pid %d on %s", h.PID, h.Host)}
		}
		if ctx.Err() != nil {
			return &ExitError{Code: ExitInterrupted, Err: ctx.Err(), Reported: true}
		}
		return err
	}
	fmt.Fprintf(a.Err, "ladder engine (pid %d) answers on %s\n", os.Getpid(), e.Info().Socket)
	if u := e.Info().URL; u != "" {
		fmt.Fprintf(a.Err, "  and for other machines on %s (LADDER_SERVER=%s, with LADDER_TOKEN)\n", u, u)
	}
	for _, name := range envs {
		req := engine.RunRequest{Env: name, Target: a.target, AllowRemote: a.dashboardAllowRemote}
		if len(o.envs) == 1 {
			req.Dashboard = o.dashboard
		}
		info, err := e.Run(ctx, req)
		if err != nil {
			fmt.Fprintf(a.Err, "%s did not start: %v\n", name, err)
			continue
		}
		note := ""
		if info.FellBack {
			note = " (its address was in use)"
		}
		fmt.Fprintf(a.Err, "  %-12s %s%s\n", name, info.URL, note)
	}
	err = e.Serve(ctx)
	if err != nil {
		return err
	}
	if ctx.Err() != nil && !o.background {
		fmt.Fprintln(a.Err, "stopped")
	}
	return nil
}

// standbyWarmEvery is how often a standby looks for releases to ready.
const standbyWarmEvery = 30 * time.Second

// warmStandby readies, while this replica waits as a standby, what taking
// over needs first: each process-target site's current release resumes
// from its images unpacked and checked (build.Builder.Rootfs), which for
// an image not read yet in this process means reading every layer. Done
// here, once per image, a failover resumes those sites that much sooner.
// It ends with ctx, which taking over cancels.
func (a *app) warmStandby(ctx context.Context, ws *workspace, logger *slog.Logger) {
	warmed := map[string]bool{}
	for said := false; ; said = true {
		arts, err := processArtifacts(ctx, ws.store)
		if err != nil {
			logger.Debug("standby: reading what runs", "err", err)
		}
		for _, art := range arts {
			if warmed[art.Digest] || ctx.Err() != nil {
				continue
			}
			if _, _, err := ws.builder.Rootfs(ctx, art.Digest); err != nil {
				logger.Debug("standby: readying an image", "service", art.Service, "digest", art.Digest, "err", err)
				continue
			}
			warmed[art.Digest] = true
		}
		if !said && ctx.Err() == nil {
			// What a rolling upgrade waits for before it stops the owner.
			fmt.Fprintf(a.Err, "standby: ready to take over (%s of process-target sites unpacked and checked)\n", plural(len(warmed), "image"))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(standbyWarmEvery):
		}
	}
}

// processArtifacts lists the artifacts of the snapshots that the current
// releases of process-target sites run, each digest once: one query for
// what runs where, then one read per distinct snapshot.
func processArtifacts(ctx context.Context, st store.Store) ([]snapshot.Artifact, error) {
	running, err := st.Running(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	read := map[string]bool{}
	var out []snapshot.Artifact
	for _, r := range running {
		if r.Target != spec.KindProcess || read[r.Snapshot] {
			continue
		}
		read[r.Snapshot] = true
		snap, err := st.GetSnapshot(ctx, r.Snapshot)
		if err != nil {
			return out, err
		}
		for _, svc := range snap.Services() {
			if art := snap.Artifacts[svc]; !seen[art.Digest] {
				seen[art.Digest] = true
				out = append(out, art)
			}
		}
	}
	return out, nil
}

// takeOver closes what an engine that died left half done, before a
// served engine (which resumes what ran) starts the rungs. The dead
// engine's deploy leases lapse about when its engine lease did, not
// before: a release still in progress is waited for, a little longer than
// a lease lives, and closed as interrupted once its lease lapsed; one
// whose holder is alive (a foreground up elsewhere) is left to it.
func (a *app) takeOver(ctx context.Context, ws *workspace, logger *slog.Logger) error {
	rec := &deploy.Recorder{Store: ws.store, Logger: logger}
	out := &printer{w: a.Err}
	deadline := time.Now().Add(lease.TTL + lease.Every)
	for {
		if err := a.recover(ctx, ws, rec, "", out); err != nil {
			return err
		}
		open, err := ws.store.ListReleases(ctx, store.ReleaseFilter{Phase: store.PhaseProgressing, Limit: 1})
		if err != nil {
			return err
		}
		if len(open) == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	// Promotions the dead engine was making are closed once their lock
	// lapses; one a live process holds is its own to finish.
	pr := a.promoter(ws)
	pr.Wait = lease.TTL + lease.Every
	for _, e := range ws.project.Ladder.Environments {
		var locked *promote.LockedError
		if err := pr.Recover(ctx, e.Name); err != nil && !errors.As(err, &locked) {
			return fmt.Errorf("closing interrupted promotions to %s: %w", e.Name, err)
		}
	}
	return nil
}

// agentFor makes the agent of the environment req names, with the
// target and dashboard the asking command chose.
// A served engine's agents resume their last release when nothing of it
// runs (the engine before this one died).
// The project is read afresh: ladder.yaml may have changed (a rung added)
// since the engine started.
func (a *app) agentFor(ctx context.Context, ws *workspace, req engine.RunRequest, resume bool) (*agent.Agent, error) {
	p, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	fresh := *ws
	fresh.project = p
	ws = &fresh
	if _, err := ws.environment(req.Env); err != nil {
		return nil, err
	}
	b := *a
	b.target = req.Target
	b.dashboardAllowRemote = a.dashboardAllowRemote || req.AllowRemote
	b.resume = resume
	return b.newAgent(ws, req.Env, req.Dashboard)
}

// targetOverride is the target kind this command asks for (--target, or
// LADDER_TARGET), which an engine started earlier cannot see otherwise.
func (a *app) targetOverride() string {
	if a.target != "" {
		return a.target
	}
	return os.Getenv("LADDER_TARGET")
}

// engineArgs are the project flags a background engine needs to load the
// project as this command did.
func (a *app) engineArgs() []string {
	var args []string
	if a.ladderFile != "" {
		args = append(args, "--file", a.ladderFile)
	}
	if a.stackFile != "" {
		args = append(args, "--stack", a.stackFile)
	}
	for _, p := range a.profiles {
		args = append(args, "--profile", p)
	}
	return args
}

// engineEnv is the environment of a background engine: this command's,
// without LADDER_TARGET (each request names its target) so that a later
// command's choice is never overridden by the first one's.
func engineEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LADDER_TARGET=") {
			out = append(out, kv)
		}
	}
	return out
}

// completeEnvs completes an environment name from ladder.yaml.
func (a *app) completeEnvs(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	p, err := a.load(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, e := range p.Ladder.Environments {
		if !e.Template {
			out = append(out, e.Name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// parseProxies reads --trusted-proxy values: addresses or CIDR prefixes.
func parseProxies(vals []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, v := range vals {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("--trusted-proxy %q: want an address (10.0.0.5) or a CIDR prefix (10.0.0.0/24)", v))
			continue
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	if len(errs) > 0 {
		return nil, &ExitError{Code: ExitConfig, Err: errors.Join(errs...)}
	}
	return out, nil
}
