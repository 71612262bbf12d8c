package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/target"
)

var _ target.Target = (*Target)(nil)

// Options configure a process target.
type Options struct {
	// StateDir holds the logs (StateDir/logs/ENV/SITE/SERVICE.log).
	StateDir string
	// Rootfs returns the directory an artifact's image is unpacked in.
	Rootfs func(ctx context.Context, digest string) (string, error)
	// Store, when set, records every running instance so a later ladder
	// process can find and stop what a killed one left behind.
	Store store.Store
	// Owner identifies this ladder process in instance records.
	Owner string
	// Events, when set, receives what happens to instances.
	Events func(store.Event)
	// Redact, when set, is applied to every line of output captured, so a
	// service printing a secret does not leak it into logs.
	Redact func(string) string
	// LogRate bounds how fast each instance's output is read, in bytes
	// per second (after a burst): a service writing faster waits on its
	// pipe. 0 means DefaultLogRate.
	LogRate int64
	Logger  *slog.Logger
}

// Target runs sites as local processes.
type Target struct {
	opts Options

	mu    sync.Mutex
	sites map[render.SiteRef]*siteState
	// peers are, by site, the host ports (on 127.0.0.1) of services that
	// run elsewhere, by service and target port (see SetPeers).
	peers map[render.SiteRef]map[string]map[int]int
}

// SetPeers tells the target where services of site that it does not run
// can be reached on 127.0.0.1 (by service, then the service's own port),
// so that instances it starts after the call find them by name as they
// find its own services: through rewritten "service:port" addresses.
func (t *Target) SetPeers(site render.SiteRef, peers map[string]map[int]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.peers == nil {
		t.peers = map[render.SiteRef]map[string]map[int]int{}
	}
	t.peers[site] = peers
}

type siteState struct {
	// fronts by service, then by target port.
	fronts    map[string]map[int]*front
	instances map[string]map[string]*instance // service -> slot -> instance
	rootfs    map[string]string               // digest -> dir
	logs      map[string]*serviceLog
}

// New returns a process target.
func New(opts Options) *Target {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Target{opts: opts, sites: map[render.SiteRef]*siteState{}}
}

// Kind implements target.Target.
func (t *Target) Kind() string { return "process" }

func (t *Target) site(ref render.SiteRef) *siteState {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.sites[ref]
	if !ok {
		s = &siteState{
			fronts:    map[string]map[int]*front{},
			instances: map[string]map[string]*instance{},
			rootfs:    map[string]string{},
			logs:      map[string]*serviceLog{},
		}
		t.sites[ref] = s
	}
	return s
}

// Observe implements target.Target.
func (t *Target) Observe(_ context.Context, ref render.SiteRef) (*plan.Observed, error) {
	obs := &plan.Observed{SiteRef: ref}
	for _, in := range t.instancesOf(ref) {
		obs.Instances = append(obs.Instances, in.observe())
	}
	sort.Slice(obs.Instances, func(i, j int) bool {
		a, b := obs.Instances[i], obs.Instances[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Slot < b.Slot
	})
	return obs, nil
}

func (t *Target) instancesOf(ref render.SiteRef) []*instance {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.sites[ref]
	if !ok {
		return nil
	}
	var out []*instance
	for _, slots := range s.instances {
		for _, in := range slots {
			out = append(out, in)
		}
	}
	return out
}

// Endpoints implements target.Target.
func (t *Target) Endpoints(ref render.SiteRef) []target.Endpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.sites[ref]
	if !ok {
		return nil
	}
	var out []target.Endpoint
	for svc, ports := range s.fronts {
		for port, f := range ports {
			out = append(out, target.Endpoint{Service: svc, Target: port, URL: fmt.Sprintf("http://127.0.0.1:%d", f.port)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Target < out[j].Target
	})
	return out
}

// Apply implements target.Target.
func (t *Target) Apply(ctx context.Context, d *render.Desired, p *plan.Plan, opts target.ApplyOptions) error {
	if opts.HealthTimeout <= 0 {
		opts.HealthTimeout = 60 * time.Second
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(target.Progress) {}
	}
	d = withInternalPorts(d)
	s := t.site(d.SiteRef)
	created, err := t.ensureFronts(s, d)
	if err != nil {
		return err
	}
	started, err := t.startAll(ctx, s, d, p, opts.HealthTimeout, progress)
	if err != nil {
		// Undo: stop what this release started, close fronts it opened;
		// the previous instances never stopped serving.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		t.stopInstances(stopCtx, started)
		t.mu.Lock()
		for svc, ports := range created {
			for port, f := range ports {
				f.close(stopCtx)
				delete(s.fronts[svc], port)
			}
		}
		t.mu.Unlock()
		return err
	}

	// Route every desired service to its desired instances; instances kept
	// from the previous snapshot join this one.
	t.mu.Lock()
	for _, svc := range d.Services {
		sp, _ := p.Service(svc.Name)
		var backends []*instance
		for _, slot := range append(append([]string(nil), sp.Keep...), sp.Start...) {
			if in, ok := s.instances[svc.Name][slot]; ok {
				in.mu.Lock()
				in.snapshot = d.Snapshot
				in.mu.Unlock()
				backends = append(backends, in)
			}
		}
		for _, f := range s.fronts[svc.Name] {
			f.route(backends)
		}
	}
	t.mu.Unlock()

	// Stop the old instances, dependents first.
	var old []*instance
	t.mu.Lock()
	for i := len(p.Services) - 1; i >= 0; i-- {
		sp := p.Services[i]
		for _, o := range sp.Stop {
			if slices.Contains(sp.Start, o.Slot) {
				continue // replaced in place when its slot was restarted
			}
			if in, ok := s.instances[o.Service][o.Slot]; ok {
				old = append(old, in)
			}
		}
	}
	t.mu.Unlock()
	t.stopInstances(ctx, old)
	for _, in := range old {
		progress(target.Progress{Service: in.svc.Name, Slot: in.slot, Step: "stopped"})
	}
	t.closeUnused(ctx, s, d)
	return nil
}

// ensureFronts opens a front for every port of every desired service that
// has none yet, before anything starts, so a taken port fails the release
// while nothing has changed.
func (t *Target) ensureFronts(s *siteState, d *render.Desired) (map[string]map[int]*front, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	created := map[string]map[int]*front{}
	var errs []error
	for _, svc := range d.Services {
		for _, port := range svc.Ports {
			if f, ok := s.fronts[svc.Name][port.Target]; ok && publishedOn(port, f.published) {
				continue
			}
			f, err := listenFrontRange(svc.Name, port)
			if err != nil {
				errs = append(errs, &target.PortInUseError{Service: svc.Name, Port: port.Published, Err: err})
				continue
			}
			if s.fronts[svc.Name] == nil {
				s.fronts[svc.Name] = map[int]*front{}
			}
			if old, ok := s.fronts[svc.Name][port.Target]; ok {
				old.close(context.Background())
			}
			s.fronts[svc.Name][port.Target] = f
			if created[svc.Name] == nil {
				created[svc.Name] = map[int]*front{}
			}
			created[svc.Name][port.Target] = f
		}
	}
	if err := errors.Join(errs...); err != nil {
		for _, ports := range created {
			for port, f := range ports {
				f.close(context.Background())
				delete(s.fronts[f.service], port)
			}
		}
		return nil, err
	}
	return created, nil
}

// closeUnused closes fronts of services and ports no longer desired.
func (t *Target) closeUnused(ctx context.Context, s *siteState, d *render.Desired) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for svc, ports := range s.fronts {
		want, ok := d.Service(svc)
		for port, f := range ports {
			keep := false
			if ok {
				for _, p := range want.Ports {
					keep = keep || p.Target == port
				}
			}
			if !keep {
				f.close(ctx)
				delete(ports, port)
			}
		}
		if len(ports) == 0 {
			delete(s.fronts, svc)
		}
	}
}

func (t *Target) stopInstances(ctx context.Context, ins []*instance) {
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.stop(ctx)
		}()
	}
	wg.Wait()
}

// Release implements target.Releaser: the site's instances end with this
// process, so they stop now, gracefully, as Down stops them.
func (t *Target) Release(ctx context.Context, ref render.SiteRef) error {
	return t.Down(ctx, ref, target.DownOptions{})
}

// Down implements target.Target.
func (t *Target) Down(ctx context.Context, ref render.SiteRef, _ target.DownOptions) error {
	t.stopInstances(ctx, t.instancesOf(ref))
	t.mu.Lock()
	s, ok := t.sites[ref]
	delete(t.sites, ref)
	t.mu.Unlock()
	if !ok {
		return nil
	}
	for _, ports := range s.fronts {
		for _, f := range ports {
			f.close(ctx)
		}
	}
	for _, l := range s.logs {
		l.close()
	}
	return nil
}

func (t *Target) event(in *instance, kind store.EventKind, msg string, attrs map[string]string) {
	if t.opts.Events == nil {
		return
	}
	in.mu.Lock()
	snap := in.snapshot
	in.mu.Unlock()
	t.opts.Events(store.Event{
		Kind: kind, Env: in.site.Env, Site: in.site.Site, Snapshot: snap,
		Service: in.svc.Name, Message: msg, Attrs: attrs,
	})
}

// record writes the instance to the store so a later process can reap it.
func (t *Target) record(in *instance) {
	if t.opts.Store == nil {
		return
	}
	o := in.observe()
	pid := 0
	fmt.Sscan(o.ID, &pid)
	port := 0
	if len(in.svc.Ports) > 0 {
		port = in.ports[in.svc.Ports[0].Target]
	}
	err := t.opts.Store.PutInstance(context.Background(), store.Instance{
		Env: in.site.Env, Site: in.site.Site, Service: in.svc.Name, Slot: in.slot,
		Snapshot: o.Snapshot, Digest: o.Digest, Config: o.Config, PID: pid, Port: port,
		Owner: t.opts.Owner, Started: o.Started,
	})
	if err != nil {
		t.opts.Logger.Warn("recording instance", "service", in.svc.Name, "slot", in.slot, "err", err)
	}
}

// forget removes a stopped instance from the site and the store.
func (t *Target) forget(in *instance) {
	t.mu.Lock()
	if s, ok := t.sites[in.site]; ok {
		if cur, ok := s.instances[in.svc.Name][in.slot]; ok && cur == in {
			delete(s.instances[in.svc.Name], in.slot)
		}
	}
	t.mu.Unlock()
	if t.opts.Store != nil {
		if err := t.opts.Store.DeleteInstance(context.Background(), in.site.Env, in.site.Site, in.svc.Name, in.slot); err != nil {
			t.opts.Logger.Warn("forgetting instance", "service", in.svc.Name, "slot", in.slot, "err", err)
		}
	}
}

func (t *Target) rootfsDir(in *instance) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.sites[in.site]; ok {
		return s.rootfs[in.svc.Digest]
	}
	return ""
}
