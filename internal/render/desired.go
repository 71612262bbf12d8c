package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// SiteRef names one site of one environment.
type SiteRef struct {
	Env  string `json:"environment"`
	Site string `json:"site"`
}

func (s SiteRef) String() string { return s.Env + "/" + s.Site }

// Desired is what a site should run.
type Desired struct {
	SiteRef
	// Stack is the stack (Compose project) name.
	Stack string `json:"stack"`
	// Snapshot is the ID of the snapshot being deployed.
	Snapshot string `json:"snapshot"`
	// Data is the environment's data class ("throwaway", "seeded",
	// "synthetic", "real"), which every instance gets as LADDER_DATA so
	// that a seed step can refuse to touch real data.
	Data string `json:"data,omitempty"`
	// Services in dependency order: every service comes after the services
	// it depends on; ties are broken by name so the order is stable.
	Services []Service `json:"services"`
	// Networks and Volumes are the stack's named networks and volumes,
	// sorted (targets without them ignore them).
	Networks []string `json:"networks,omitempty"`
	Volumes  []string `json:"volumes,omitempty"`
	// NetworkOptions and VolumeOptions are the settings of those networks
	// and volumes that are not the defaults, by name.
	NetworkOptions map[string]NetworkOptions `json:"networkOptions,omitempty"`
	VolumeOptions  map[string]VolumeOptions  `json:"volumeOptions,omitempty"`
}

// NetworkOptions are a stack network's settings.
type NetworkOptions struct {
	// Internal networks have no route outside the engine.
	Internal bool              `json:"internal,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// VolumeOptions are a stack volume's settings.
type VolumeOptions struct {
	DriverOpts map[string]string `json:"driverOpts,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// Service is the desired state of one service on a site.
type Service struct {
	Name string `json:"name"`
	// Digest is the artifact (image) digest the service runs.
	Digest string `json:"digest"`
	// Entrypoint and Command are the argv, in the image's terms (paths
	// inside the image), after the stack's overrides were applied.
	Entrypoint []string `json:"entrypoint,omitempty"`
	Command    []string `json:"command,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	// Environment is the service's environment: the image's, then the
	// stack's, then the environment's values, in increasing precedence,
	// then its secrets.
	Environment map[string]string `json:"environment,omitempty"`
	// SecretEnv names the variables of Environment whose values are
	// secrets (values.services.X.secrets), sorted: every printer shows
	// them as Redacted.
	SecretEnv []string `json:"secretEnv,omitempty"`
	Ports     []Port   `json:"ports,omitempty"`
	Replicas  int      `json:"replicas"`
	// Resources are per-instance limits from the environment's values;
	// nil means none.
	Resources *Resources `json:"resources,omitempty"`
	// Job is "migration" or "seed" for a service that runs to completion
	// on every release (x-ladder.job); empty for a serving service.
	Job string `json:"job,omitempty"`
	// Networks the service joins (by stack name), sorted.
	Networks []string `json:"networks,omitempty"`
	// Volumes mounted into the service.
	Volumes []Mount `json:"volumes,omitempty"`
	Health  *Health `json:"health,omitempty"`
	// HealthDisabled says the stack turns health checking off
	// (healthcheck: disable: true, or test: ["NONE"]): the image's own
	// HEALTHCHECK must not run either.
	HealthDisabled bool         `json:"healthDisabled,omitempty"`
	Metrics        *Endpoint    `json:"metrics,omitempty"`
	DependsOn      []Dependency `json:"dependsOn,omitempty"`
	// Restart is the Compose restart policy: "no", "always", "on-failure"
	// or "unless-stopped".
	Restart string `json:"restart"`
	// MaxRestarts bounds "on-failure" restarts (Compose's "on-failure:N");
	// 0 means no bound.
	MaxRestarts int           `json:"maxRestarts,omitempty"`
	StopGrace   time.Duration `json:"stopGrace"`
	// Logs bounds the service's captured output where the stack says so
	// (Compose's logging.options max-size and max-file); nil leaves the
	// target's defaults.
	Logs *LogLimits `json:"logs,omitempty"`
	// Runtime is how its containers run (user, capabilities, limits...);
	// nil when the stack sets none of it.
	Runtime *Runtime `json:"runtime,omitempty"`
	// Files are its secrets and configs, mounted as files.
	Files []File `json:"files,omitempty"`
	// Config is a hash of everything above but Replicas: two instances with
	// the same Config run the same thing, so an unchanged service is kept
	// as it runs and only a changed one is replaced.
	Config string `json:"config"`
}

// Resources are CPU and memory limits, as Compose writes them ("0.5",
// "512m").
type Resources struct {
	CPUs   string `json:"cpus,omitempty"`
	Memory string `json:"memory,omitempty"`
}

// LogLimits bound a service's captured output: files rotate at MaxSize
// bytes and at most MaxFiles are kept (the current one included), as
// Docker's json-file driver does. A zero field leaves the default.
type LogLimits struct {
	MaxSize  int64 `json:"maxSize,omitempty"`
	MaxFiles int   `json:"maxFiles,omitempty"`
}

// Redacted is shown instead of a secret's value.
const Redacted = "<redacted>"

// Secret reports whether the variable key of the service holds a secret.
func (s *Service) Secret(key string) bool {
	_, found := slices.BinarySearch(s.SecretEnv, key)
	return found
}

// Mount is a volume or bind mount.
type Mount struct {
	// Type is "volume", "bind" or "tmpfs".
	Type string `json:"type"`
	// Source is the named volume, or the host path of a bind mount.
	Source   string `json:"source,omitempty"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	// Propagation is a bind mount's propagation (rprivate, shared...).
	Propagation string `json:"propagation,omitempty"`
	// NoCopy keeps a new volume from being filled from the image.
	NoCopy bool `json:"noCopy,omitempty"`
	// TmpfsSize (bytes) and TmpfsMode bound a tmpfs mount.
	TmpfsSize int64  `json:"tmpfsSize,omitempty"`
	TmpfsMode uint32 `json:"tmpfsMode,omitempty"`
}

// Port is a port the service listens on.
type Port struct {
	// Target is the port the service listens on (the container port).
	Target int `json:"target"`
	// Published is the host port it must be reachable on; 0 lets the
	// target choose a free one.
	Published int    `json:"published,omitempty"`
	Protocol  string `json:"protocol"`
	// PublishedEnd, when set, makes Published..PublishedEnd a range the
	// runtime picks a free host port from ("8000-8002:80").
	PublishedEnd int `json:"publishedEnd,omitempty"`
	// HostIP is the host address to publish on; empty means all.
	HostIP string `json:"hostIP,omitempty"`
}

// Health is how a service's instances are checked.
type Health struct {
	// HTTP, when set, is probed directly (preferred where the target can).
	HTTP *Endpoint `json:"http,omitempty"`
	// Command is the Compose healthcheck test as argv ("CMD" form; the
	// "CMD-SHELL" form becomes ["/bin/sh", "-c", ...]).
	Command []string `json:"command,omitempty"`
	// Shell says Command came from a CMD-SHELL test (/bin/sh -c TEXT).
	Shell       bool          `json:"shell,omitempty"`
	Interval    time.Duration `json:"interval"`
	Timeout     time.Duration `json:"timeout"`
	Retries     int           `json:"retries"`
	StartPeriod time.Duration `json:"startPeriod"`
}

// Endpoint is an HTTP path on one of the service's ports.
type Endpoint struct {
	Path string `json:"path"`
	Port int    `json:"port"`
}

// Dependency is a depends_on entry.
type Dependency struct {
	Service string `json:"service"`
	// Condition is "service_started", "service_healthy" or
	// "service_completed_successfully".
	Condition string `json:"condition"`
}

// Service returns the desired service named name.
func (d *Desired) Service(name string) (*Service, bool) {
	for i := range d.Services {
		if d.Services[i].Name == name {
			return &d.Services[i], true
		}
	}
	return nil, false
}

// HostNames are the names other services reach svc by besides its own:
// its network aliases on every network (container_name among them), each
// once, in order.
func (svc Service) HostNames() []string {
	if svc.Runtime == nil {
		return nil
	}
	var out []string
	for _, n := range sortedKeys(svc.Runtime.Aliases) {
		for _, a := range svc.Runtime.Aliases[n] {
			if a != svc.Name && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// ServiceByHost returns the service a host name reaches: the service of
// that name, else the first (in order) with it as a network alias.
func (d *Desired) ServiceByHost(host string) (*Service, bool) {
	if s, ok := d.Service(host); ok {
		return s, true
	}
	for i := range d.Services {
		if slices.Contains(d.Services[i].HostNames(), host) {
			return &d.Services[i], true
		}
	}
	return nil, false
}

// Job reports whether the service runs to completion rather than serving:
// it is marked as a job (x-ladder.job), or a dependent waits for it with
// service_completed_successfully.
func (d *Desired) Job(name string) bool {
	for _, s := range d.Services {
		if s.Name == name && s.Job != "" {
			return true
		}
		for _, dep := range s.DependsOn {
			if dep.Service == name && dep.Condition == ConditionCompleted {
				return true
			}
		}
	}
	return false
}

// depends_on conditions.
const (
	ConditionStarted   = "service_started"
	ConditionHealthy   = "service_healthy"
	ConditionCompleted = "service_completed_successfully"
)

// String is the render's text form, used by golden tests and `ladder render`.
func (d *Desired) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "site %s stack %s snapshot %s\n", d.SiteRef, d.Stack, snapshot.Short(d.Snapshot))
	if len(d.Networks) > 0 {
		fmt.Fprintf(&b, "networks %s\n", strings.Join(d.Networks, " "))
	}
	if len(d.Volumes) > 0 {
		fmt.Fprintf(&b, "volumes %s\n", strings.Join(d.Volumes, " "))
	}
	for _, n := range sortedKeys(d.NetworkOptions) {
		o := d.NetworkOptions[n]
		fmt.Fprintf(&b, "network %s internal %v%s\n", n, o.Internal, labelText(o.Labels))
	}
	for _, v := range sortedKeys(d.VolumeOptions) {
		o := d.VolumeOptions[v]
		fmt.Fprintf(&b, "volume %s%s", v, labelText(o.Labels))
		for _, k := range sortedKeys(o.DriverOpts) {
			fmt.Fprintf(&b, " opt %s=%s", k, o.DriverOpts[k])
		}
		b.WriteString("\n")
	}
	for _, s := range d.Services {
		fmt.Fprintf(&b, "service %s\n", s.Name)
		fmt.Fprintf(&b, "  digest      %s\n", s.Digest)
		fmt.Fprintf(&b, "  config      %s\n", snapshot.Short(s.Config))
		fmt.Fprintf(&b, "  replicas    %d\n", s.Replicas)
		if r := s.Resources; r != nil {
			fmt.Fprintf(&b, "  resources   cpus %s memory %s\n", orDash(r.CPUs), orDash(r.Memory))
		}
		if s.Job != "" {
			fmt.Fprintf(&b, "  job         %s (runs to completion)\n", s.Job)
		}
		if len(s.Entrypoint) > 0 {
			fmt.Fprintf(&b, "  entrypoint  %s\n", strings.Join(s.Entrypoint, " "))
		}
		if len(s.Command) > 0 {
			fmt.Fprintf(&b, "  command     %s\n", strings.Join(s.Command, " "))
		}
		for _, k := range sortedKeys(s.Environment) {
			if s.Secret(k) {
				fmt.Fprintf(&b, "  env         %s=%s (secret)\n", k, Redacted)
				continue
			}
			fmt.Fprintf(&b, "  env         %s=%s\n", k, s.Environment[k])
		}
		for _, p := range s.Ports {
			pub := "auto"
			if p.Published != 0 {
				pub = fmt.Sprint(p.Published)
			}
			if p.PublishedEnd != 0 {
				pub += fmt.Sprintf("-%d", p.PublishedEnd)
			}
			if p.HostIP != "" {
				pub += " on " + p.HostIP
			}
			fmt.Fprintf(&b, "  port        %d/%s published %s\n", p.Target, p.Protocol, pub)
		}
		if h := s.Health; h != nil {
			how := strings.Join(h.Command, " ")
			if h.HTTP != nil {
				how = fmt.Sprintf("GET :%d%s", h.HTTP.Port, h.HTTP.Path)
			}
			fmt.Fprintf(&b, "  health      %s every %s timeout %s retries %d start %s\n", how, h.Interval, h.Timeout, h.Retries, h.StartPeriod)
		}
		if m := s.Metrics; m != nil {
			fmt.Fprintf(&b, "  metrics     :%d%s\n", m.Port, m.Path)
		}
		for _, dep := range s.DependsOn {
			fmt.Fprintf(&b, "  depends on  %s (%s)\n", dep.Service, dep.Condition)
		}
		if len(s.Networks) > 0 {
			fmt.Fprintf(&b, "  networks    %s\n", strings.Join(s.Networks, " "))
		}
		for _, m := range s.Volumes {
			ro := ""
			if m.ReadOnly {
				ro = " (read-only)"
			}
			fmt.Fprintf(&b, "  volume      %s %s -> %s%s%s\n", m.Type, m.Source, m.Target, ro, mountOptions(m))
		}
		for _, f := range s.Files {
			owner := ""
			if f.UID != "" || f.GID != "" {
				owner = fmt.Sprintf(" owner %s:%s", orDash(f.UID), orDash(f.GID))
			}
			fmt.Fprintf(&b, "  file        %s %s -> %s (%s, mode %04o%s)\n", f.Kind, f.Name, f.Target, f.Source, f.Mode, owner)
		}
		for _, l := range s.Runtime.lines() {
			fmt.Fprintf(&b, "  %-11s %s\n", l[0], l[1])
		}
		restart := s.Restart
		if s.MaxRestarts > 0 {
			restart = fmt.Sprintf("%s (at most %d times)", restart, s.MaxRestarts)
		}
		fmt.Fprintf(&b, "  restart     %s, stop grace %s\n", restart, s.StopGrace)
	}
	return b.String()
}

// ConfigHash hashes the service's definition except Replicas, Config and
// the values of secrets (which variables are secret is part of it); Render
// sets Service.Config to it. Leaving secret values out keeps Config the
// same whether or not a render loaded them (drift and diff do not), and
// keeps a hash of a secret out of container labels: a rotated secret alone
// does not replace instances.
func ConfigHash(s Service) string {
	s.Replicas = 0
	s.Config = ""
	if len(s.SecretEnv) > 0 {
		env := make(map[string]string, len(s.Environment))
		for k, v := range s.Environment {
			if s.Secret(k) {
				v = Redacted
			}
			env[k] = v
		}
		s.Environment = env
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // plain data; cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
