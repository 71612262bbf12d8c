package render

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
)

// Image is what render needs from an artifact's image configuration.
type Image struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
}

// ImageLookup returns the image configuration of an artifact digest.
type ImageLookup func(digest string) (Image, error)

// ReservedEnvPrefix marks environment variables that targets set on every
// instance (LADDER_SNAPSHOT, LADDER_ENVIRONMENT, LADDER_SITE, LADDER_DATA, ...); a stack
// or values file may not set them.
const ReservedEnvPrefix = "LADDER_"

// Defaults applied where the stack is silent. Compose's own defaults for
// healthchecks (30s interval and timeout) suit long-lived production
// services; HTTP probes declared for ladder default to a quicker pace
// because a release waits on them.
const (
	DefaultStopGrace    = 10 * time.Second
	DefaultInterval     = 30 * time.Second
	DefaultTimeout      = 30 * time.Second
	DefaultRetries      = 3
	DefaultHTTPInterval = 2 * time.Second
	DefaultHTTPTimeout  = 2 * time.Second
)

// Options are the optional inputs of RenderWith.
type Options struct {
	// Secrets returns the value of the named secret of the environment
	// being rendered; an error means it is not available. nil uses
	// Placeholder, for renders that never show or deploy secret values.
	Secrets func(name string) (string, error)
	// ReadFile and LookupEnv load the content of secrets and configs
	// (File.Content) from files and variables; nil ReadFile leaves every
	// content unloaded, for renders that do not deploy.
	ReadFile  func(path string) ([]byte, error)
	LookupEnv func(key string) (string, bool)
}

// Placeholder is the Options.Secrets of renders that must not load secret
// values (diff, drift): it stands "<secret NAME>" in for each, so that
// two renders differ where their secret references differ and nowhere
// else.
func Placeholder(name string) (string, error) { return "<secret " + name + ">", nil }

// Render computes the desired state of site on environment envName for
// snapshot snap, without loading secrets (see Placeholder). Every problem
// is returned at once.
func Render(p *spec.Project, envName, site string, snap *snapshot.Snapshot, images ImageLookup) (*Desired, error) {
	return RenderWith(p, envName, site, snap, images, Options{})
}

// RenderWith is Render with options: the secrets of the environment are
// injected as the variables values.services.X.secrets names, which
// Service.SecretEnv lists. Services whose x-ladder tier is above the
// environment's values.tier are left out; a service that runs depending
// on one left out is an error.
func RenderWith(p *spec.Project, envName, site string, snap *snapshot.Snapshot, images ImageLookup, opts Options) (*Desired, error) {
	env, ok := p.Ladder.Environment(envName)
	if !ok {
		return nil, fmt.Errorf("environment %q is not defined in %s", envName, ladderFileName(p))
	}
	if opts.Secrets == nil {
		opts.Secrets = Placeholder
	}
	d := &Desired{
		SiteRef:  SiteRef{Env: envName, Site: site},
		Stack:    p.Stack.Name,
		Snapshot: snap.ID,
		Data:     env.Data,
	}
	d.Networks = sortedKeys(p.Stack.Compose.Networks)
	d.Volumes = sortedKeys(p.Stack.Compose.Volumes)
	for name, n := range p.Stack.Compose.Networks {
		if n.Internal || len(n.Labels) > 0 {
			if d.NetworkOptions == nil {
				d.NetworkOptions = map[string]NetworkOptions{}
			}
			d.NetworkOptions[name] = NetworkOptions{Internal: n.Internal, Labels: map[string]string(n.Labels)}
		}
	}
	for name, v := range p.Stack.Compose.Volumes {
		if len(v.DriverOpts) > 0 || len(v.Labels) > 0 {
			if d.VolumeOptions == nil {
				d.VolumeOptions = map[string]VolumeOptions{}
			}
			d.VolumeOptions[name] = VolumeOptions{DriverOpts: v.DriverOpts, Labels: map[string]string(v.Labels)}
		}
	}
	var errs []error
	for _, name := range dependencyOrder(p.Stack.Compose) {
		if !env.Runs(p.Stack.Ext[name]) {
			continue
		}
		for _, dep := range sortedKeys(p.Stack.Compose.Services[name].DependsOn) {
			if x := p.Stack.Ext[dep]; !env.Runs(x) {
				errs = append(errs, fmt.Errorf("service %q depends on %q, which does not run on %s: its x-ladder.tier is %s, above the environment's tier %s", name, dep, envName, x.ServiceTier(), env.Tier()))
			}
		}
		svc, err := renderService(p, env, name, snap, images, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.Services = append(d.Services, svc)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return d, nil
}

func renderService(p *spec.Project, env *spec.Environment, name string, snap *snapshot.Snapshot, images ImageLookup, opts Options) (Service, error) {
	cs := p.Stack.Compose.Services[name]
	art, ok := snap.Artifacts[name]
	if !ok {
		return Service{}, fmt.Errorf("service %q: snapshot %s has no artifact for it (it was made before the service had a build section or an image)", name, snapshot.Short(snap.ID))
	}
	img, err := images(art.Digest)
	if err != nil {
		return Service{}, fmt.Errorf("service %q: %w", name, err)
	}
	s := Service{
		Name:       name,
		Digest:     art.Digest,
		Entrypoint: img.Entrypoint,
		Command:    img.Cmd,
		WorkingDir: img.WorkingDir,
		Replicas:   cs.GetScale(),
		Restart:    cs.Restart,
		StopGrace:  DefaultStopGrace,
	}
	// Compose semantics: overriding the entrypoint drops the image's command.
	if cs.Entrypoint != nil {
		s.Entrypoint = []string(cs.Entrypoint)
		s.Command = nil
	}
	if cs.Command != nil {
		s.Command = []string(cs.Command)
	}
	if cs.WorkingDir != "" {
		s.WorkingDir = cs.WorkingDir
	}
	var errs []error
	s.Restart, s.MaxRestarts, err = restartPolicy(cs.Restart)
	if err != nil {
		errs = append(errs, fmt.Errorf("service %q: %w", name, err))
	}
	if cs.StopGracePeriod != nil {
		s.StopGrace = time.Duration(*cs.StopGracePeriod)
	}
	if cs.Logging != nil {
		s.Logs, err = logLimits(cs.Logging.Options)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %q: logging.options: %w", name, err))
		}
	}
	if cs.Restart == "" && cs.Deploy != nil && cs.Deploy.RestartPolicy != nil {
		s.Restart, s.MaxRestarts = deployRestart(cs.Deploy.RestartPolicy)
	}
	if s.Runtime, err = renderRuntime(cs, linkAliases(p.Stack.Compose, name)); err != nil {
		errs = append(errs, fmt.Errorf("service %q: %w", name, err))
	}
	if s.Files, err = renderFiles(p.Stack.Compose, cs, env.Name, opts); err != nil {
		errs = append(errs, fmt.Errorf("service %q: %w", name, err))
	}

	s.Environment = map[string]string{}
	for _, kv := range img.Env {
		k, v, _ := strings.Cut(kv, "=")
		s.Environment[k] = v
	}
	for k, v := range cs.Environment {
		if v != nil {
			s.Environment[k] = *v
		}
	}
	vals := env.Values.Services[name]
	for k, v := range vals.Environment {
		s.Environment[k] = v
	}
	for _, k := range sortedKeys(vals.Secrets) {
		secret := vals.Secrets[k]
		v, err := opts.Secrets(secret)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %q: secret %s (for %s) is not available in environment %s: %w", name, secret, k, env.Name, err))
			continue
		}
		s.Environment[k] = v
		s.SecretEnv = append(s.SecretEnv, k)
	}
	for _, k := range sortedKeys(s.Environment) {
		if strings.HasPrefix(k, ReservedEnvPrefix) {
			errs = append(errs, fmt.Errorf("service %q: environment variable %s is reserved: ladder sets %s* on every instance", name, k, ReservedEnvPrefix))
		}
	}
	if vals.Replicas != nil {
		s.Replicas = *vals.Replicas
	}
	if r := vals.Resources; r != nil && (r.CPUs != "" || r.Memory != "") {
		s.Resources = &Resources{CPUs: r.CPUs, Memory: r.Memory}
	}
	s.Job = p.Stack.Ext[name].Job

	for _, pc := range cs.Ports {
		port := Port{Target: int(pc.Target), Protocol: pc.Protocol, HostIP: pc.HostIP}
		if port.Protocol == "" {
			port.Protocol = "tcp"
		}
		if pc.Published != "" {
			from, to, err := publishedRange(pc.Published)
			if err != nil {
				errs = append(errs, fmt.Errorf("service %q: published port %q: %w", name, pc.Published, err))
				continue
			}
			port.Published = from
			if to != from {
				port.PublishedEnd = to
			}
		}
		if host, ok := vals.Ports[strconv.Itoa(port.Target)]; ok {
			port.Published = host
		}
		s.Ports = append(s.Ports, port)
	}
	for k := range vals.Ports {
		found := false
		for _, p := range s.Ports {
			found = found || strconv.Itoa(p.Target) == k
		}
		if !found {
			errs = append(errs, fmt.Errorf("service %q: values publish container port %s, which the service does not declare", name, k))
		}
	}
	ext := p.Stack.Ext[name]
	firstPort := 0
	if len(s.Ports) > 0 {
		firstPort = s.Ports[0].Target
	}
	if ext.Health != nil {
		port := ext.Health.Port
		if port == 0 {
			port = firstPort
		}
		s.Health = &Health{
			HTTP:     &Endpoint{Path: ext.Health.Path, Port: port},
			Interval: DefaultHTTPInterval,
			Timeout:  DefaultHTTPTimeout,
			Retries:  DefaultRetries,
		}
		if port == 0 {
			errs = append(errs, fmt.Errorf("service %q: x-ladder.health needs a port: the service declares none", name))
		}
	}
	if hc := cs.HealthCheck; hc != nil && (hc.Disable || len(hc.Test) > 0 && hc.Test[0] == "NONE") {
		s.HealthDisabled = true
	}
	if hc := cs.HealthCheck; hc != nil && !hc.Disable && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
		if s.Health == nil {
			s.Health = &Health{Interval: DefaultInterval, Timeout: DefaultTimeout, Retries: DefaultRetries}
		}
		switch hc.Test[0] {
		case "CMD":
			s.Health.Command = append([]string(nil), hc.Test[1:]...)
		case "CMD-SHELL":
			// As Docker runs it: the image's /bin/sh, in the service's
			// environment; the process target does the same.
			s.Health.Command = []string{"/bin/sh", "-c", strings.Join(hc.Test[1:], " ")}
			s.Health.Shell = true
		default:
			errs = append(errs, fmt.Errorf("service %q: healthcheck test must start with CMD, CMD-SHELL or NONE", name))
		}
		if hc.Interval != nil {
			s.Health.Interval = time.Duration(*hc.Interval)
		}
		if hc.Timeout != nil {
			s.Health.Timeout = time.Duration(*hc.Timeout)
		}
		if hc.Retries != nil {
			s.Health.Retries = int(*hc.Retries)
		}
		if hc.StartPeriod != nil {
			s.Health.StartPeriod = time.Duration(*hc.StartPeriod)
		}
	}
	if ext.Metrics != nil {
		port := ext.Metrics.Port
		if port == 0 {
			port = firstPort
		}
		s.Metrics = &Endpoint{Path: ext.Metrics.Path, Port: port}
	}

	s.Networks = sortedKeys(cs.Networks)
	for _, v := range cs.Volumes {
		m := Mount{Type: v.Type, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
		if v.Bind != nil {
			m.Propagation = v.Bind.Propagation
		}
		if v.Volume != nil {
			m.NoCopy = v.Volume.NoCopy
		}
		if v.Tmpfs != nil {
			m.TmpfsSize, m.TmpfsMode = int64(v.Tmpfs.Size), v.Tmpfs.Mode
		}
		s.Volumes = append(s.Volumes, m)
	}

	for _, dep := range sortedKeys(cs.DependsOn) {
		cond := cs.DependsOn[dep].Condition
		if cond == "" {
			cond = ConditionStarted
		}
		s.DependsOn = append(s.DependsOn, Dependency{Service: dep, Condition: cond})
	}
	if err := errors.Join(errs...); err != nil {
		return Service{}, err
	}
	s.Config = ConfigHash(s)
	return s, nil
}

// restartPolicy splits a Compose restart policy into its kind and, for
// "on-failure:N", the bound on restarts.
func restartPolicy(p string) (string, int, error) {
	switch p {
	case "":
		return types.RestartPolicyNo, 0, nil
	case types.RestartPolicyNo, types.RestartPolicyAlways, types.RestartPolicyOnFailure, types.RestartPolicyUnlessStopped:
		return p, 0, nil
	}
	if n, ok := strings.CutPrefix(p, types.RestartPolicyOnFailure+":"); ok {
		if max, err := strconv.Atoi(n); err == nil && max >= 0 {
			return types.RestartPolicyOnFailure, max, nil
		}
	}
	return "", 0, fmt.Errorf("restart policy %q: want no, always, on-failure[:N] or unless-stopped", p)
}

// deployRestart maps deploy.restart_policy to a restart policy, as
// docker compose does when `restart` is not set.
func deployRestart(rp *types.RestartPolicy) (string, int) {
	max := 0
	if rp.MaxAttempts != nil {
		max = int(*rp.MaxAttempts)
	}
	switch rp.Condition {
	case "none":
		return types.RestartPolicyNo, 0
	case "on-failure":
		return types.RestartPolicyOnFailure, max
	}
	return types.RestartPolicyAlways, 0
}

// publishedRange reads a published port or range ("8000" or "8000-8002").
func publishedRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	from, err := strconv.Atoi(a)
	if err != nil || from <= 0 || from > 65535 {
		return 0, 0, errors.New("not a port or port range")
	}
	to := from
	if isRange {
		if to, err = strconv.Atoi(b); err != nil || to < from || to > 65535 {
			return 0, 0, errors.New("not a port range: want LOW-HIGH")
		}
	}
	return from, to, nil
}

// dependencyOrder sorts services so each follows its dependencies, breaking
// ties by name. compose-go has already refused cycles and unknown services.
func dependencyOrder(p *types.Project) []string {
	names := make([]string, 0, len(p.Services))
	for name := range p.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	done := map[string]bool{}
	var order []string
	var visit func(string)
	visit = func(n string) {
		if done[n] {
			return
		}
		done[n] = true
		for _, dep := range sortedKeys(p.Services[n].DependsOn) {
			if _, ok := p.Services[dep]; ok {
				visit(dep)
			}
		}
		order = append(order, n)
	}
	for _, n := range names {
		visit(n)
	}
	return order
}

func ladderFileName(p *spec.Project) string {
	if p.LadderFile != "" {
		return p.LadderFile
	}
	return "the default ladder (no ladder.yaml)"
}
