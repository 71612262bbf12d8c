package hybrid

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/target/compose"
	"github.com/ladderhq/ladder/internal/target/process"
)

var (
	_ target.Target    = (*Target)(nil)
	_ target.Inspector = (*Target)(nil)
	_ target.Describer = (*Target)(nil)
	_ target.Placer    = (*Target)(nil)
)

// Options configure a hybrid target.
type Options struct {
	// Process runs the native half.
	Process *process.Target
	// Engine returns the compose target that runs the engine half,
	// connecting to the engine when first asked; it fails when no engine
	// answers.
	Engine func(ctx context.Context) (*compose.Target, error)
	// Native reports whether a service's artifact runs as a native
	// process (a static single binary, build.StaticBinary).
	Native func(ctx context.Context, svc render.Service) (bool, error)
	Logger *slog.Logger
}

// Target runs each service of a site natively or in the engine.
type Target struct {
	opts Options

	mu     sync.Mutex
	engine *compose.Target
	// failed is when the engine last did not answer, and why: it is asked
	// again only after engineRetry, so that the read paths of a site with
	// no engine do not wait on it each time.
	failed    time.Time
	failedErr error
	native    map[string]bool // by service and digest
	sites     map[render.SiteRef]*siteState
}

type siteState struct {
	sides map[string]target.Side
	// observed is where each instance was last seen ("service/slot").
	observed map[string]target.Side
	// gateways are the site networks' gateway addresses on this host.
	gateways []string
	// toNative relay gateway:port to native fronts, by "ip:port".
	toNative map[string]*relay
	// toEngine are 127.0.0.1 fronts of engine services, by service and
	// the service's own port.
	toEngine map[string]map[int]*relay
	// addrs are the engine services' running containers' addresses.
	addrs map[string][]string
	next  int
}

// New returns a hybrid target.
func New(opts Options) *Target {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Target{opts: opts, native: map[string]bool{}, sites: map[render.SiteRef]*siteState{}}
}

// Kind implements target.Target: users choose and see "process".
func (t *Target) Kind() string { return "process" }

func (t *Target) site(ref render.SiteRef) *siteState {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.sites[ref]
	if !ok {
		s = &siteState{sides: map[string]target.Side{}, observed: map[string]target.Side{}, toNative: map[string]*relay{}, toEngine: map[string]map[int]*relay{}, addrs: map[string][]string{}}
		t.sites[ref] = s
	}
	return s
}

// engineRetry is how long an engine that did not answer is not asked again.
const engineRetry = 5 * time.Second

// eng returns the compose target, connecting on first use.
func (t *Target) eng(ctx context.Context) (*compose.Target, error) {
	t.mu.Lock()
	e := t.engine
	t.mu.Unlock()
	if e != nil {
		return e, nil
	}
	if t.opts.Engine == nil {
		return nil, errors.New("no Docker engine is configured")
	}
	t.mu.Lock()
	failed, failedErr := t.failed, t.failedErr
	t.mu.Unlock()
	if failedErr != nil && time.Since(failed) < engineRetry {
		return nil, failedErr
	}
	e, err := t.opts.Engine(ctx)
	if err != nil {
		t.mu.Lock()
		t.failed, t.failedErr = time.Now(), err
		t.mu.Unlock()
		return nil, err
	}
	t.mu.Lock()
	if t.engine == nil {
		t.engine = e
	}
	e = t.engine
	t.mu.Unlock()
	return e, nil
}

// Place implements target.Placer: where each desired service runs.
func (t *Target) Place(ctx context.Context, d *render.Desired) (map[string]target.Side, error) {
	out := map[string]target.Side{}
	for _, svc := range d.Services {
		key := svc.Name + "@" + svc.Digest
		t.mu.Lock()
		native, ok := t.native[key]
		t.mu.Unlock()
		if !ok {
			var err error
			if native, err = t.opts.Native(ctx, svc); err != nil {
				return nil, fmt.Errorf("service %s: %w", svc.Name, err)
			}
			t.mu.Lock()
			t.native[key] = native
			t.mu.Unlock()
		}
		out[svc.Name] = target.SideEngine
		if native {
			out[svc.Name] = target.SideNative
		}
	}
	return out, nil
}

// Sides implements target.Placer: where each service of site ran in the
// last release this target applied.
func (t *Target) Sides(ref render.SiteRef) map[string]target.Side {
	s := t.site(ref)
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]target.Side{}
	for k, v := range s.sides {
		out[k] = v
	}
	for k, v := range s.observed {
		svc, _, _ := strings.Cut(k, "/")
		if _, ok := out[svc]; !ok {
			out[svc] = v
		}
	}
	return out
}

// EngineNeededError says services must run in the engine and none answers.
type EngineNeededError struct {
	Services []string
	Err      error
}

func (e *EngineNeededError) Error() string {
	return fmt.Sprintf("services %s are not static binaries and run in the Docker engine, which does not answer: %v", strings.Join(e.Services, ", "), e.Err)
}

func (e *EngineNeededError) Unwrap() error { return e.Err }

// Observe implements target.Target: both halves' instances.
func (t *Target) Observe(ctx context.Context, ref render.SiteRef) (*plan.Observed, error) {
	obs, err := t.opts.Process.Observe(ctx, ref)
	if err != nil {
		return nil, err
	}
	seen := map[string]target.Side{}
	for _, in := range obs.Instances {
		seen[in.Service+"/"+in.Slot] = target.SideNative
	}
	if e, err := t.eng(ctx); err == nil {
		eobs, err := e.Observe(ctx, ref)
		if err != nil {
			return nil, err
		}
		for _, in := range eobs.Instances {
			seen[in.Service+"/"+in.Slot] = target.SideEngine
		}
		obs.Instances = append(obs.Instances, eobs.Instances...)
		t.setAddrs(ref, eobs)
	} else if t.needsEngine(ref) {
		return nil, err
	}
	sort.Slice(obs.Instances, func(i, j int) bool {
		a, b := obs.Instances[i], obs.Instances[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Slot < b.Slot
	})
	s := t.site(ref)
	t.mu.Lock()
	s.observed = seen
	t.mu.Unlock()
	return obs, nil
}

func (t *Target) needsEngine(ref render.SiteRef) bool {
	s := t.site(ref)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, side := range s.sides {
		if side == target.SideEngine {
			return true
		}
	}
	return false
}

func (t *Target) setAddrs(ref render.SiteRef, obs *plan.Observed) {
	addrs := map[string][]string{}
	for _, in := range obs.Instances {
		if in.Addr != "" && (in.State == plan.StateRunning || in.State == plan.StateStarting) {
			addrs[in.Service] = append(addrs[in.Service], in.Addr)
		}
	}
	s := t.site(ref)
	t.mu.Lock()
	s.addrs = addrs
	t.mu.Unlock()
}

// Apply implements target.Target. The half the other depends on goes
// first (target.Split). A failure in the second half leaves the first
// half on the new release; the deploy records the release as failed.
func (t *Target) Apply(ctx context.Context, d *render.Desired, p *plan.Plan, opts target.ApplyOptions) error {
	sides, err := t.Place(ctx, d)
	if err != nil {
		return err
	}
	s := t.site(d.SiteRef)
	t.mu.Lock()
	observed := s.observed
	t.mu.Unlock()
	halves, err := target.Split(d, p, sides, observed)
	if err != nil {
		return err
	}
	var eng *compose.Target
	var engineHalf *target.Half
	for i := range halves {
		if halves[i].Side == target.SideEngine && !halves[i].Empty() {
			engineHalf = &halves[i]
		}
	}
	if engineHalf != nil {
		if eng, err = t.eng(ctx); err != nil {
			var names []string
			for _, svc := range engineHalf.Desired.Services {
				names = append(names, svc.Name)
			}
			return &EngineNeededError{Services: names, Err: err}
		}
		if err := t.prepareEngine(ctx, eng, d, engineHalf, sides); err != nil {
			return err
		}
	}
	t.mu.Lock()
	s.sides = sides
	t.mu.Unlock()
	// Each half is applied whole or not at all (its target starts the new
	// instances, and stops the old ones only once all are ready); a half
	// that fails after another one changed puts that one back.
	changed := false
	for _, h := range halves {
		var err error
		switch h.Side {
		case target.SideNative:
			if err = t.opts.Process.Apply(ctx, h.Desired, h.Plan, opts); err == nil {
				t.relayNative(d.SiteRef)
			}
		case target.SideEngine:
			if h.Empty() {
				continue
			}
			if err = eng.Apply(ctx, h.Desired, h.Plan, opts); err == nil {
				if obs, oerr := eng.Observe(ctx, d.SiteRef); oerr == nil {
					t.setAddrs(d.SiteRef, obs)
				}
			}
		}
		if err != nil {
			if changed {
				return t.restore(ctx, d, len(observed) == 0, opts, err)
			}
			return err
		}
		changed = changed || !h.Plan.Empty()
	}
	t.closeUnused(d)
	return nil
}

// restoreTimeout bounds putting a site back after a failed release.
const restoreTimeout = 2 * time.Minute

// restore puts a site whose release failed in its second half back to
// what it ran before (opts.Previous; nothing, when the site ran nothing
// before), so that the first half does not stay on a release that failed.
// cause is the failure; the answer wraps it and says what was done.
func (t *Target) restore(ctx context.Context, d *render.Desired, wasEmpty bool, opts target.ApplyOptions, cause error) error {
	prev := opts.Previous
	if prev == nil && wasEmpty {
		prev = &render.Desired{SiteRef: d.SiteRef, Stack: d.Stack}
	}
	if prev == nil {
		return fmt.Errorf("%w (what %s ran before is not known to this agent, so the part of the release that was ready keeps running)", cause, d.SiteRef)
	}
	undo, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
	defer cancel()
	if opts.Progress != nil {
		opts.Progress(target.Progress{Step: "restoring", Detail: "putting back what ran before the failed release"})
	}
	obs, err := t.Observe(undo, d.SiteRef)
	if err == nil {
		back := opts
		back.Previous = nil
		err = t.Apply(undo, prev, plan.Compute(prev, obs), back)
	}
	if err != nil {
		return errors.Join(cause, fmt.Errorf("putting %s back to what it ran before: %w", d.SiteRef, err))
	}
	return fmt.Errorf("%w (the site was put back to what it ran before)", cause)
}

// prepareEngine creates the site's networks, points the containers'
// native service names at the gateway (extra_hosts) and opens the fronts
// native processes reach the containers at.
func (t *Target) prepareEngine(ctx context.Context, eng *compose.Target, d *render.Desired, h *target.Half, sides map[string]target.Side) error {
	if len(h.Desired.Services) == 0 {
		return nil
	}
	gws, err := eng.Gateways(ctx, h.Desired)
	if err != nil {
		return err
	}
	// The names containers reach native services by: theirs and their
	// aliases (a service's own name wins over another's alias).
	var natives []string
	for _, svc := range d.Services {
		if sides[svc.Name] != target.SideNative {
			continue
		}
		natives = append(natives, svc.Name)
		for _, host := range svc.HostNames() {
			if _, ok := d.Service(host); !ok && !slices.Contains(natives, host) {
				natives = append(natives, host)
			}
		}
	}
	sort.Strings(natives)
	ExtraHosts(h.Desired, natives, gws)
	s := t.site(d.SiteRef)
	var ips []string
	for _, ip := range gws {
		if !slices.Contains(ips, ip) {
			ips = append(ips, ip)
		}
	}
	sort.Strings(ips)
	t.mu.Lock()
	s.gateways = ips
	t.mu.Unlock()

	peers := map[string]map[int]int{}
	var errs []error
	for svc, ports := range enginePorts(d, sides) {
		for _, port := range ports {
			t.mu.Lock()
			r, ok := s.toEngine[svc][port]
			t.mu.Unlock()
			if !ok {
				r, err = listenRelay("127.0.0.1", 0, t.dialEngine(d.SiteRef, svc, port))
				if err != nil {
					errs = append(errs, fmt.Errorf("service %s: opening its front on 127.0.0.1: %w", svc, err))
					continue
				}
				t.mu.Lock()
				if s.toEngine[svc] == nil {
					s.toEngine[svc] = map[int]*relay{}
				}
				s.toEngine[svc][port] = r
				t.mu.Unlock()
			}
			if peers[svc] == nil {
				peers[svc] = map[int]int{}
			}
			peers[svc][port] = r.port
		}
	}
	// Native processes name engine services by their aliases too.
	for svc, ports := range maps.Clone(peers) {
		es, ok := d.Service(svc)
		if !ok {
			continue
		}
		for _, host := range es.HostNames() {
			if _, ok := d.Service(host); !ok {
				if _, taken := peers[host]; !taken {
					peers[host] = ports
				}
			}
		}
	}
	t.opts.Process.SetPeers(d.SiteRef, peers)
	return errors.Join(errs...)
}

// ExtraHosts points the names of the native services at the gateway of
// each engine service's first network, on a copy of its runtime.
func ExtraHosts(d *render.Desired, natives []string, gateways map[string]string) {
	for i := range d.Services {
		svc := &d.Services[i]
		nets := compose.ServiceNetworks(*svc)
		if len(nets) == 0 || len(natives) == 0 {
			continue
		}
		rt := render.Runtime{}
		if svc.Runtime != nil {
			rt = *svc.Runtime
		}
		rt.ExtraHosts = slices.Clone(rt.ExtraHosts)
		for _, n := range natives {
			rt.ExtraHosts = append(rt.ExtraHosts, n+":"+gateways[nets[0]])
		}
		sort.Strings(rt.ExtraHosts)
		svc.Runtime = &rt
	}
}

// addrRef matches "name:port" as the process target rewrites it.
var addrRef = regexp.MustCompile(`(^|[/@=,;\s])([a-zA-Z0-9][a-zA-Z0-9_.-]*):([0-9]{1,5})\b`)

// enginePorts are the ports of engine services native processes may
// dial: their published and exposed ports, and every "service:port" the
// native services' environments name.
func enginePorts(d *render.Desired, sides map[string]target.Side) map[string][]int {
	out := map[string][]int{}
	add := func(svc string, port int) {
		if port > 0 && !slices.Contains(out[svc], port) {
			out[svc] = append(out[svc], port)
		}
	}
	for _, svc := range d.Services {
		if sides[svc.Name] != target.SideEngine {
			continue
		}
		for _, p := range svc.Ports {
			add(svc.Name, p.Target)
		}
		for _, port := range process.ExposedPorts(svc) {
			add(svc.Name, port)
		}
	}
	for _, svc := range d.Services {
		if sides[svc.Name] != target.SideNative {
			continue
		}
		for _, v := range svc.Environment {
			for _, m := range addrRef.FindAllStringSubmatch(v, -1) {
				if to, ok := d.ServiceByHost(m[2]); ok && sides[to.Name] == target.SideEngine {
					port, _ := strconv.Atoi(m[3])
					add(to.Name, port)
				}
			}
		}
	}
	for _, ports := range out {
		sort.Ints(ports)
	}
	return out
}

// dialEngine connects to one of the service's running containers,
// looking again when the addresses known fail (it was replaced).
func (t *Target) dialEngine(ref render.SiteRef, service string, port int) func(ctx context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		try := func() (net.Conn, error) {
			s := t.site(ref)
			t.mu.Lock()
			addrs := s.addrs[service]
			s.next++
			n := s.next
			t.mu.Unlock()
			if len(addrs) == 0 {
				return nil, fmt.Errorf("service %s has no running container", service)
			}
			return d.DialContext(ctx, "tcp", net.JoinHostPort(addrs[n%len(addrs)], strconv.Itoa(port)))
		}
		c, err := try()
		if err == nil {
			return c, nil
		}
		if e, eerr := t.eng(ctx); eerr == nil {
			if obs, oerr := e.Observe(ctx, ref); oerr == nil {
				t.setAddrs(ref, obs)
				return try()
			}
		}
		return nil, err
	}
}

// relayNative opens, on every gateway of the site's networks, a relay
// on each native service port to the service's front, which is where a
// container's extra_hosts entry sends it.
func (t *Target) relayNative(ref render.SiteRef) {
	s := t.site(ref)
	t.mu.Lock()
	gws := s.gateways
	t.mu.Unlock()
	if len(gws) == 0 {
		return
	}
	want := map[string]bool{}
	for _, e := range t.opts.Process.Endpoints(ref) {
		u, err := url.Parse(e.URL)
		if err != nil {
			continue
		}
		front := u.Host
		for _, gw := range gws {
			key := net.JoinHostPort(gw, strconv.Itoa(e.Target))
			want[key] = true
			t.mu.Lock()
			_, ok := s.toNative[key]
			t.mu.Unlock()
			if ok {
				continue
			}
			r, err := listenRelay(gw, e.Target, func(ctx context.Context) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", front)
			})
			if err != nil {
				t.opts.Logger.Warn("containers cannot reach a native service", "service", e.Service, "address", key, "err", err)
				continue
			}
			t.mu.Lock()
			s.toNative[key] = r
			t.mu.Unlock()
		}
	}
	t.mu.Lock()
	var stale []*relay
	for key, r := range s.toNative {
		if !want[key] {
			stale = append(stale, r)
			delete(s.toNative, key)
		}
	}
	t.mu.Unlock()
	for _, r := range stale {
		r.close()
	}
}

// closeUnused closes the fronts of engine services no longer desired.
func (t *Target) closeUnused(d *render.Desired) {
	s := t.site(d.SiteRef)
	t.mu.Lock()
	var stale []*relay
	for svc, ports := range s.toEngine {
		if s.sides[svc] == target.SideEngine {
			continue
		}
		for _, r := range ports {
			stale = append(stale, r)
		}
		delete(s.toEngine, svc)
	}
	t.mu.Unlock()
	for _, r := range stale {
		r.close()
	}
}

// Release implements target.Releaser: the native half stops gracefully
// (its processes end with this one); the engine half keeps running.
func (t *Target) Release(ctx context.Context, ref render.SiteRef) error {
	return t.opts.Process.Down(ctx, ref, target.DownOptions{})
}

// Down implements target.Target: both halves and the relays.
func (t *Target) Down(ctx context.Context, ref render.SiteRef, opts target.DownOptions) error {
	errs := []error{t.opts.Process.Down(ctx, ref, opts)}
	if e, err := t.eng(ctx); err == nil {
		errs = append(errs, e.Down(ctx, ref, opts))
	} else if t.needsEngine(ref) {
		errs = append(errs, err)
	}
	t.mu.Lock()
	s, ok := t.sites[ref]
	delete(t.sites, ref)
	t.mu.Unlock()
	if ok {
		for _, r := range s.toNative {
			r.close()
		}
		for _, ports := range s.toEngine {
			for _, r := range ports {
				r.close()
			}
		}
	}
	t.opts.Process.SetPeers(ref, nil)
	return errors.Join(errs...)
}

// Endpoints implements target.Target: both halves' published ports.
func (t *Target) Endpoints(ref render.SiteRef) []target.Endpoint {
	out := t.opts.Process.Endpoints(ref)
	t.mu.Lock()
	e := t.engine
	t.mu.Unlock()
	if e != nil {
		out = append(out, e.Endpoints(ref)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// Logs implements target.Target: a service's output from the half that
// runs it; every service's from both.
func (t *Target) Logs(ctx context.Context, ref render.SiteRef, service string, opts target.LogOptions, w io.Writer) error {
	e, eerr := t.eng(ctx)
	if service != "" {
		if eerr == nil && t.inEngine(ctx, e, ref, service) {
			return e.Logs(ctx, ref, service, opts, w)
		}
		return t.opts.Process.Logs(ctx, ref, service, opts, w)
	}
	if eerr != nil {
		return t.opts.Process.Logs(ctx, ref, "", opts, w)
	}
	sw := &syncWriter{w: w}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = t.opts.Process.Logs(ctx, ref, "", opts, sw) }()
	go func() { defer wg.Done(); errs[1] = e.Logs(ctx, ref, "", opts, sw) }()
	wg.Wait()
	return errors.Join(errs...)
}

func (t *Target) inEngine(ctx context.Context, e *compose.Target, ref render.SiteRef, service string) bool {
	if side, ok := t.Sides(ref)[service]; ok {
		return side == target.SideEngine
	}
	obs, err := e.Observe(ctx, ref)
	if err != nil {
		return false
	}
	for _, in := range obs.Instances {
		if in.Service == service {
			return true
		}
	}
	return false
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// Inspect implements target.Inspector: the native half as recorded, the
// engine half as the engine reports it, without the extra_hosts entries
// this target adds.
func (t *Target) Inspect(ctx context.Context, ref render.SiteRef) (*drift.Live, error) {
	nl, err := t.opts.Process.Inspect(ctx, ref)
	if err != nil {
		return nil, err
	}
	live := &drift.Live{SiteRef: ref}
	for _, in := range nl.Instances {
		in.Recorded = true
		live.Instances = append(live.Instances, in)
	}
	e, err := t.eng(ctx)
	if err != nil {
		if t.needsEngine(ref) {
			return nil, err
		}
		return live, nil
	}
	el, err := e.Inspect(ctx, ref)
	if err != nil {
		return nil, err
	}
	live.Instances = append(live.Instances, el.Instances...)
	return live, nil
}

// Describe implements target.Describer: the engine half's Compose
// project, when there is an engine.
func (t *Target) Describe(ref render.SiteRef) map[string]string {
	t.mu.Lock()
	e := t.engine
	t.mu.Unlock()
	if e == nil || !t.needsEngine(ref) {
		return nil
	}
	return e.Describe(ref)
}

// Watch implements target.Watcher for the engine half.
func (t *Target) Watch(ctx context.Context, ref render.SiteRef, changed func(what string)) {
	e, err := t.eng(ctx)
	if err != nil {
		<-ctx.Done()
		return
	}
	e.Watch(ctx, ref, changed)
}
