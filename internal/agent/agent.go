package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/secrets"
	"github.com/ladderhq/ladder/internal/server"
	"github.com/ladderhq/ladder/internal/signal"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/target"
)

// Options configure an agent.
type Options struct {
	// Dir is the project directory, reloaded on every deploy so a release
	// always renders the files as they are now.
	Dir     string
	Load    spec.LoadOptions
	Project *spec.Project
	Env     string
	// StateDir is the project's state directory (the agent file lives there).
	StateDir string
	Store    store.Store
	Builder  *build.Builder
	Target   target.Target
	// Addr overrides the environment's dashboard address.
	Addr string
	// Verify checks a snapshot's signature against the trusted keys and
	// its artifacts (protected environments, signed gates).
	Verify func(*snapshot.Snapshot) error
	// Secrets returns an environment's secret values (decrypted with its
	// key); called only when a release needs them.
	Secrets func(env string) (map[string]string, error)
	// Redactor learns every secret value a release loads, so logs and
	// output never show them.
	Redactor *secrets.Redactor
	Logger   *slog.Logger
	// Alert, when set, receives what needs a person's attention whatever
	// the log level (the store lost under the agent); the CLI writes it
	// to the agent's standard error, which is its log file.
	Alert func(msg string)
	// StartEnv starts another environment's agent (the engine runs it),
	// for a promotion this agent makes to a rung that does not run yet.
	StartEnv func(ctx context.Context, env string) (*Client, error)
	// Projects, when set, caches the project between deploys (an engine
	// runs many); nil loads the files afresh every time.
	Projects *spec.Cache
	// Resume brings the environment back to its last release when the
	// agent starts and nothing of it runs although nobody took it down
	// (a served engine that starts or takes over).
	Resume bool
}

// Agent runs one environment.
type Agent struct {
	opts   Options
	holder store.Holder
	// held is the rung's agent lease (lease.AgentName), taken by Listen:
	// one agent per environment, whichever process started it.
	held     *lease.Held
	started  time.Time
	events   *deploy.Recorder
	deployer *deploy.Deployer
	scraper  *signal.Scraper
	history  *signal.History

	mu      sync.Mutex
	project *spec.Project
	env     *spec.Environment
	// desired is each site's desired state after its last release, and
	// drift its latest drift report (absent when it matches).
	desired map[string]*render.Desired
	drift   map[string]*drift.Report
	// lostStore is set once the store's file was found deleted, replaced
	// or damaged; nothing is recorded from then on.
	lostStore error

	wg    sync.WaitGroup // the watch goroutines
	ticks atomic.Int64   // scrape ticks, to pace slower periodic work

	deployMu sync.Mutex // one release at a time

	// life is the context deploys run on once accepted: it outlives the
	// request that asked for them and ends only when the agent shuts
	// down, which then waits for them (deploys).
	life    context.Context
	endLife context.CancelFunc
	lifeMu  sync.Mutex // orders deploys.Add before deploys.Wait
	deploys sync.WaitGroup

	ln       net.Listener
	url      string
	srv      *http.Server
	shutdown chan struct{}
	stopOnce sync.Once
}

// New returns an agent for opts.Env of opts.Project.
func New(opts Options) (*Agent, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	env, ok := opts.Project.Ladder.Environment(opts.Env)
	if !ok {
		return nil, fmt.Errorf("environment %q is not defined", opts.Env)
	}
	holder := lease.Self()
	rec := &deploy.Recorder{Store: opts.Store, Logger: opts.Logger}
	deployer := &deploy.Deployer{Store: opts.Store, Events: rec, Holder: holder, ImageID: render.ImageIDs(opts.Builder.Image)}
	// Releases record keyed fingerprints of the secrets they inject, for
	// `ladder drift` to compare with what runs.
	if opts.StateDir == "" {
		// No state directory, nowhere to keep a key: no fingerprints.
	} else if fp, err := secrets.OpenFingerprinter(opts.StateDir, true); err != nil {
		opts.Logger.Warn("secret fingerprints unavailable; ladder drift will not compare secret values", "err", err)
	} else {
		deployer.Fingerprint = fp.Fingerprint
	}
	life, endLife := context.WithCancel(context.Background())
	return &Agent{
		life:     life,
		endLife:  endLife,
		opts:     opts,
		holder:   holder,
		started:  time.Now().UTC(),
		events:   rec,
		deployer: deployer,
		scraper:  signal.NewScraper(signal.ScraperOptions{}),
		history:  signal.NewHistory(120),
		project:  opts.Project,
		env:      env,
		desired:  map[string]*render.Desired{},
		drift:    map[string]*drift.Report{},
		shutdown: make(chan struct{}),
	}, nil
}

// Events returns the agent's event recorder (targets report through it).
func (a *Agent) Events() *deploy.Recorder { return a.events }

// Listen takes the environment's agent lease, then binds the dashboard
// address. When another agent holds the lease (it runs the environment)
// the error is a *lease.BusyError. When the configured port is taken it
// falls back to a free one rather than refusing to run the stack.
func (a *Agent) Listen() (fellBack bool, err error) {
	if a.held == nil {
		// Long enough for a killed agent's lease to lapse, so that its
		// successor starts at once after it.
		held, err := lease.Acquire(context.Background(), a.opts.Store, lease.AgentName(a.opts.Env), a.holder, lease.Options{Wait: lease.TTL + lease.Every})
		if err != nil {
			return false, err
		}
		a.held = held
	}
	defer func() {
		if err != nil {
			a.held.Release()
			a.held = nil
		}
	}()
	addr := a.opts.Addr
	if addr == "" {
		addr = a.env.Dashboard
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		host, _, splitErr := net.SplitHostPort(addr)
		if splitErr != nil {
			return false, fmt.Errorf("dashboard address %q: %w", addr, err)
		}
		if ln, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
			return false, fmt.Errorf("dashboard: %w", err)
		}
		fellBack = true
	}
	a.ln = ln
	a.url = "http://" + ln.Addr().String()
	a.srv = &http.Server{
		Handler: withInstance(a.holder.Instance, server.New(server.Options{
			Source: a, Store: a.opts.Store, Env: a.opts.Env, Logger: a.opts.Logger,
			Auth: a.authenticator(), Hosts: append(listenHosts(ln), allowedHosts()...),
		})),
		ReadHeaderTimeout: 5 * time.Second,
	}
	return fellBack, nil
}

// URL is where the dashboard and API are served.
func (a *Agent) URL() string { return a.url }

// Run serves the API and scrapes telemetry until ctx ends or Shutdown is
// asked for, then takes every site of the environment down.
func (a *Agent) Run(ctx context.Context) error {
	if a.ln == nil {
		return errors.New("agent: Listen first")
	}
	defer a.held.Release()
	if err := writeInfo(a.opts.StateDir, a.opts.Env, Info{PID: a.holder.PID, Holder: a.holder, URL: a.url, Started: a.started, Target: a.opts.Target.Kind()}); err != nil {
		return err
	}
	defer removeInfo(a.opts.StateDir, a.opts.Env, a.holder)

	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	}()
	scrapeCtx, stopScrape := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.scrapeLoop(scrapeCtx)
	}()

	a.watchDrift(scrapeCtx)
	if a.opts.Resume {
		a.wg.Go(func() { a.resume(scrapeCtx) })
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.housekeep(scrapeCtx)
	}()

	var err error
	lost, handedOver := false, false
	leaseDone := a.held.Context().Done()
wait:
	for {
		select {
		case <-ctx.Done():
			if cause := context.Cause(ctx); errors.Is(cause, lease.ErrLapsed) || errors.Is(cause, lease.ErrHandedOver) {
				// The engine running this agent lost its lease (another
				// engine owns the environment's sites now), or stops and
				// leaves them to the next one.
				lost = true
				handedOver = errors.Is(cause, lease.ErrHandedOver)
				err = fmt.Errorf("agent for %s stopped: %w", a.opts.Env, context.Cause(ctx))
			}
		case <-a.shutdown:
		case err = <-serveErr:
		case <-leaseDone:
			if a.storeLost() != nil {
				// The lease went with the store: no other agent can take
				// the environment over from it, so this one keeps its
				// sites running, for `ladder down` to stop them.
				leaseDone = nil
				continue wait
			}
			// Another agent owns the environment now: its sites are not
			// this agent's to take down.
			lost = true
			err = fmt.Errorf("agent for %s stopped: %w", a.opts.Env, context.Cause(a.held.Context()))
			if a.opts.Alert != nil {
				a.opts.Alert(err.Error())
			}
		}
		break
	}
	stopScrape()
	a.endDeploys()
	downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	if !lost {
		err = errors.Join(err, a.down(downCtx))
	} else if handedOver {
		// A handover is a clean stop, not a failure of this agent.
		err = a.release(downCtx)
	}
	shutCtx, cancel2 := context.WithTimeout(downCtx, 2*time.Second)
	defer cancel2()
	_ = a.srv.Shutdown(shutCtx)
	wg.Wait()
	a.wg.Wait()
	return err
}

// Shutdown implements server.Source: Run returns after taking the
// environment down.
func (a *Agent) Shutdown(context.Context) error {
	a.stopOnce.Do(func() { close(a.shutdown) })
	return nil
}

// withInstance names the agent's instance on every answer, so a client
// that found the agent through its file knows it talks to that agent and
// not to whatever took its address since.
func withInstance(instance string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(instanceHeader, instance)
		h.ServeHTTP(w, r)
	})
}

// Done is closed when Shutdown was asked for.
func (a *Agent) Done() <-chan struct{} { return a.shutdown }

func (a *Agent) down(ctx context.Context) error {
	a.deployMu.Lock()
	defer a.deployMu.Unlock()
	var errs []error
	for _, site := range a.sites() {
		ref := render.SiteRef{Env: a.opts.Env, Site: site}
		snap := a.currentSnapshot(ctx, ref)
		if err := a.opts.Target.Down(ctx, ref, target.DownOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("taking %s down: %w", ref, err))
			continue
		}
		a.events.Record(store.Event{Kind: store.EventStackDown, Env: ref.Env, Site: ref.Site, Snapshot: snap, Message: fmt.Sprintf("%s taken down", ref)})
	}
	return errors.Join(errs...)
}

// release stops, gracefully, what of each site cannot outlive this
// process (target.Releaser), when the engine hands the environment over
// to the next one: the next owner starts it again from the store.
func (a *Agent) release(ctx context.Context) error {
	r, ok := a.opts.Target.(target.Releaser)
	if !ok {
		return nil
	}
	a.deployMu.Lock()
	defer a.deployMu.Unlock()
	var errs []error
	for _, site := range a.sites() {
		ref := render.SiteRef{Env: a.opts.Env, Site: site}
		if err := r.Release(ctx, ref); err != nil {
			errs = append(errs, fmt.Errorf("releasing %s: %w", ref, err))
		}
	}
	return errors.Join(errs...)
}

func (a *Agent) sites() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, s := range a.env.Sites {
		out = append(out, s.Name)
	}
	return out
}

func (a *Agent) scrapeLoop(ctx context.Context) {
	a.mu.Lock()
	every := a.env.Telemetry.Interval
	a.mu.Unlock()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if tick := a.ticks.Add(1); tick%5 == 0 && a.deployMu.TryLock() {
			a.refreshKnownGood(ctx)
			a.deployMu.Unlock()
		}
		targets := a.scrapeTargets(ctx)
		samples, errs := a.scraper.Scrape(ctx, targets)
		for _, e := range errs {
			a.opts.Logger.Debug("scrape failed", "target", e.Target.String(), "err", e.Err)
		}
		if len(samples) == 0 {
			continue
		}
		a.history.Add(samples)
		if a.storeLost() != nil {
			continue
		}
		if err := a.opts.Store.AppendSamples(ctx, samples); err != nil && ctx.Err() == nil {
			a.opts.Logger.Warn("recording telemetry", "err", err)
		}
	}
}

// scrapeTargets lists the metrics endpoint of every running instance.
func (a *Agent) scrapeTargets(ctx context.Context) []signal.ScrapeTarget {
	a.mu.Lock()
	p := a.project
	a.mu.Unlock()
	var out []signal.ScrapeTarget
	for _, site := range a.sites() {
		ref := render.SiteRef{Env: a.opts.Env, Site: site}
		obs, err := a.opts.Target.Observe(ctx, ref)
		if err != nil {
			continue
		}
		for _, in := range obs.Instances {
			ext := p.Stack.Ext[in.Service]
			if ext.Metrics == nil || in.State != "running" {
				continue
			}
			port := ext.Metrics.Port
			if port == 0 {
				if svc, ok := p.Stack.Compose.Services[in.Service]; ok && len(svc.Ports) > 0 {
					port = int(svc.Ports[0].Target)
				}
			}
			hostPort, ok := in.Ports[port]
			if !ok || in.Addr == "" {
				continue
			}
			out = append(out, signal.ScrapeTarget{
				Env: ref.Env, Site: ref.Site, Snapshot: in.Snapshot, Service: in.Service, Slot: in.Slot,
				URL: fmt.Sprintf("http://%s%s", net.JoinHostPort(in.Addr, strconv.Itoa(hostPort)), ext.Metrics.Path),
			})
		}
	}
	return out
}

var _ server.Source = (*Agent)(nil)

// Target is the target the agent deploys with.
func (a *Agent) Target() target.Target { return a.opts.Target }

// authenticator checks the tokens of the store; with a state directory,
// the local admin token still works while the store cannot answer.
func (a *Agent) authenticator() auth.Authenticator {
	var authn auth.Authenticator = &auth.TokenAuthenticator{Store: a.opts.Store}
	if a.opts.StateDir != "" {
		authn = auth.WithLocalFallback(authn, a.opts.StateDir)
	}
	return authn
}

// EnvAllowedHosts names more host names (comma-separated) that the
// dashboard and API answer to, besides localhost and loopback addresses:
// the names a dashboard other machines reach is known by.
const EnvAllowedHosts = "LADDER_ALLOWED_HOSTS"

func allowedHosts() []string {
	var out []string
	for _, h := range strings.Split(os.Getenv(EnvAllowedHosts), ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// listenHosts are the names, besides localhost, that requests to a
// dashboard other machines reach may carry in Host: its address, and for
// an address on every interface, the machine's name and addresses.
func listenHosts(ln net.Listener) []string {
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() {
		return nil
	}
	if !tcp.IP.IsUnspecified() {
		return []string{tcp.IP.String()}
	}
	// The agent's own URL names the unspecified address (0.0.0.0:PORT),
	// and the clients on this machine use it.
	out := []string{tcp.IP.String()}
	if h, err := os.Hostname(); err == nil {
		out = append(out, h)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				out = append(out, ipn.IP.String())
			}
		}
	}
	return out
}
