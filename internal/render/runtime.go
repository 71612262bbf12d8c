package render

import (
	"errors"
	"fmt"
	"path"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	units "github.com/docker/go-units"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
)

// Runtime is how a container runs, beyond what it runs: user, identity,
// privileges, kernel settings, limits. Every field is a Compose field (see
// spec.Fields for which targets apply which); nil when the stack sets none
// of them, so adding fields here leaves existing services' Config hashes
// alone.
type Runtime struct {
	User       string `json:"user,omitempty"`
	Hostname   string `json:"hostname,omitempty"`
	Domainname string `json:"domainname,omitempty"`
	// Labels are the service's labels (the image's are kept by the engine
	// underneath them).
	Labels      map[string]string `json:"labels,omitempty"`
	StopSignal  string            `json:"stopSignal,omitempty"`
	ReadOnly    bool              `json:"readOnly,omitempty"`
	Init        bool              `json:"init,omitempty"`
	Privileged  bool              `json:"privileged,omitempty"`
	Tty         bool              `json:"tty,omitempty"`
	StdinOpen   bool              `json:"stdinOpen,omitempty"`
	CapAdd      []string          `json:"capAdd,omitempty"`
	CapDrop     []string          `json:"capDrop,omitempty"`
	SecurityOpt []string          `json:"securityOpt,omitempty"`
	Sysctls     map[string]string `json:"sysctls,omitempty"`
	Ulimits     []Ulimit          `json:"ulimits,omitempty"`
	// ExtraHosts are "host:ip" entries, sorted.
	ExtraHosts []string `json:"extraHosts,omitempty"`
	// Tmpfs are "path" or "path:options" mounts.
	Tmpfs   []string `json:"tmpfs,omitempty"`
	ShmSize int64    `json:"shmSize,omitempty"`
	// NetworkMode is "bridge", "host" or "none"; empty means the stack's
	// networks.
	NetworkMode string   `json:"networkMode,omitempty"`
	IPC         string   `json:"ipc,omitempty"`
	PID         string   `json:"pid,omitempty"`
	DNS         []string `json:"dns,omitempty"`
	DNSSearch   []string `json:"dnsSearch,omitempty"`
	DNSOptions  []string `json:"dnsOptions,omitempty"`
	GroupAdd    []string `json:"groupAdd,omitempty"`
	// Expose lists container ports opened to other services only, as
	// "PORT/PROTO".
	Expose []string `json:"expose,omitempty"`
	// Aliases are extra names per network (networks.NAME.aliases).
	Aliases map[string][]string `json:"aliases,omitempty"`
	Logging *Logging            `json:"logging,omitempty"`
	Limits  Limits              `json:"limits,omitzero"`
}

// Ulimit is one resource limit (nofile, nproc...).
type Ulimit struct {
	Name string `json:"name"`
	Soft int64  `json:"soft"`
	Hard int64  `json:"hard"`
}

// Logging is the container's log driver.
type Logging struct {
	Driver  string            `json:"driver,omitempty"`
	Options map[string]string `json:"options,omitempty"`
}

// Limits are the resource limits of one instance, from the Compose
// fields (mem_limit, cpus...) and deploy.resources; zero means unlimited.
type Limits struct {
	Memory            int64   `json:"memory,omitempty"`
	MemoryReservation int64   `json:"memoryReservation,omitempty"`
	MemorySwap        int64   `json:"memorySwap,omitempty"`
	MemorySwappiness  int64   `json:"memorySwappiness,omitempty"`
	CPUs              float64 `json:"cpus,omitempty"`
	CPUShares         int64   `json:"cpuShares,omitempty"`
	CPUQuota          int64   `json:"cpuQuota,omitempty"`
	CPUPeriod         int64   `json:"cpuPeriod,omitempty"`
	CPUSet            string  `json:"cpuset,omitempty"`
	Pids              int64   `json:"pids,omitempty"`
	OOMKillDisable    bool    `json:"oomKillDisable,omitempty"`
	OOMScoreAdj       int64   `json:"oomScoreAdj,omitempty"`
}

// File is a secret or config the service reads from a file.
type File struct {
	// Kind is "secret" or "config".
	Kind string `json:"kind"`
	// Name is the secret's or config's key in the stack.
	Name string `json:"name"`
	// Target is the absolute path inside the container.
	Target string `json:"target"`
	// Source says where the content comes from: "file:PATH",
	// "environment:VAR", "content" (written in the stack), or
	// "ladder:NAME" (the environment's encrypted secret NAME).
	Source string `json:"source"`
	UID    string `json:"uid,omitempty"`
	GID    string `json:"gid,omitempty"`
	Mode   uint32 `json:"mode"`
	// Content is the file's content, loaded only by renders that deploy
	// (Options.ReadFile set); never part of Config, JSON or text forms.
	Content []byte `json:"-"`
}

// Secret reports whether the file holds a secret.
func (f File) Secret() bool { return f.Kind == "secret" }

// ErrSecretNotSet is what Options.Secrets wraps when the environment
// has no secret of that name (as opposed to failing to read them).
var ErrSecretNotSet = errors.New("secret not set")

// XLadderSecret is the key of a top-level secret that names the
// environment's ladder secret to use as its content.
const XLadderSecret = "x-ladder-secret"

// Default file modes (Compose's).
const defaultFileMode = 0o444

// linkAliases are the aliases other services' links give the service
// name ("name:alias"), in service order, each once.
func linkAliases(proj *types.Project, name string) []string {
	var out []string
	for _, other := range sortedKeys(proj.Services) {
		for _, l := range proj.Services[other].Links {
			if svc, alias, ok := strings.Cut(l, ":"); ok && svc == name && alias != name && !slices.Contains(out, alias) {
				out = append(out, alias)
			}
		}
	}
	return out
}

// renderRuntime renders cs's runtime settings; linked are the aliases
// other services' links give it, which join its network aliases as its
// container_name does.
func renderRuntime(cs types.ServiceConfig, linked []string) (*Runtime, error) {
	rt := Runtime{
		User: cs.User, Hostname: cs.Hostname, Domainname: cs.DomainName,
		StopSignal: cs.StopSignal, ReadOnly: cs.ReadOnly, Privileged: cs.Privileged,
		Tty: cs.Tty, StdinOpen: cs.StdinOpen,
		CapAdd: slices.Clone(cs.CapAdd), CapDrop: slices.Clone(cs.CapDrop),
		SecurityOpt: slices.Clone(cs.SecurityOpt), Tmpfs: slices.Clone([]string(cs.Tmpfs)),
		ShmSize: int64(cs.ShmSize), NetworkMode: cs.NetworkMode, IPC: cs.Ipc, PID: cs.Pid,
		DNS: slices.Clone([]string(cs.DNS)), DNSSearch: slices.Clone([]string(cs.DNSSearch)),
		DNSOptions: slices.Clone(cs.DNSOpts), GroupAdd: slices.Clone(cs.GroupAdd),
	}
	var errs []error
	if cs.Init != nil {
		rt.Init = *cs.Init
	}
	if len(cs.Labels) > 0 {
		rt.Labels = map[string]string{}
		for k, v := range cs.Labels {
			if strings.HasPrefix(k, "com.docker.compose.") || strings.HasPrefix(k, "dev.ladder.") {
				errs = append(errs, fmt.Errorf("label %s is reserved: ladder sets com.docker.compose.* and dev.ladder.* labels itself", k))
				continue
			}
			rt.Labels[k] = v
		}
	}
	if len(cs.Sysctls) > 0 {
		rt.Sysctls = copyMapping(cs.Sysctls)
	}
	for _, name := range sortedKeys(cs.Ulimits) {
		u := cs.Ulimits[name]
		if u == nil {
			continue
		}
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		rt.Ulimits = append(rt.Ulimits, Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	for _, host := range sortedKeys(cs.ExtraHosts) {
		for _, ip := range cs.ExtraHosts[host] {
			rt.ExtraHosts = append(rt.ExtraHosts, host+":"+ip)
		}
	}
	for _, e := range cs.Expose {
		if !strings.Contains(e, "/") {
			e += "/tcp"
		}
		rt.Expose = append(rt.Expose, e)
	}
	for _, n := range sortedKeys(cs.Networks) {
		var as []string
		if nc := cs.Networks[n]; nc != nil {
			as = slices.Clone(nc.Aliases)
		}
		// Containers are named after their release slot; the name the
		// file gives is what other containers reach the service by.
		for _, a := range append([]string{cs.ContainerName}, linked...) {
			if a != "" && !slices.Contains(as, a) {
				as = append(as, a)
			}
		}
		if len(as) > 0 {
			if rt.Aliases == nil {
				rt.Aliases = map[string][]string{}
			}
			rt.Aliases[n] = as
		}
	}
	if l := cs.Logging; l != nil && (l.Driver != "" || len(l.Options) > 0) {
		rt.Logging = &Logging{Driver: l.Driver, Options: map[string]string(l.Options)}
	}
	lim := Limits{
		Memory: int64(cs.MemLimit), MemoryReservation: int64(cs.MemReservation),
		MemorySwap: int64(cs.MemSwapLimit), MemorySwappiness: int64(cs.MemSwappiness),
		CPUs: float64(cs.CPUS), CPUShares: cs.CPUShares, CPUQuota: cs.CPUQuota, CPUPeriod: cs.CPUPeriod,
		CPUSet: cs.CPUSet, Pids: cs.PidsLimit, OOMKillDisable: cs.OomKillDisable, OOMScoreAdj: cs.OomScoreAdj,
	}
	if d := cs.Deploy; d != nil {
		// compose-go has refused distinct values in both places.
		if r := d.Resources.Limits; r != nil {
			if r.MemoryBytes != 0 {
				lim.Memory = int64(r.MemoryBytes)
			}
			if r.NanoCPUs != 0 {
				lim.CPUs = float64(r.NanoCPUs)
			}
			if r.Pids != 0 {
				lim.Pids = r.Pids
			}
		}
		if r := d.Resources.Reservations; r != nil && r.MemoryBytes != 0 {
			lim.MemoryReservation = int64(r.MemoryBytes)
		}
	}
	rt.Limits = lim
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if reflect.ValueOf(rt).IsZero() {
		return nil, nil
	}
	return &rt, nil
}

func copyMapping(m types.Mapping) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// renderFiles resolves the service's secrets and configs into files.
// Content is loaded only when opts can (a deploy); a file that cannot be
// loaded then is an error, named by its source.
func renderFiles(p *types.Project, cs types.ServiceConfig, envName string, opts Options) ([]File, error) {
	var files []File
	var errs []error
	add := func(kind string, ref types.FileReferenceConfig, def types.FileObjectConfig) {
		f := File{Kind: kind, Name: ref.Source, UID: ref.UID, GID: ref.GID, Mode: defaultFileMode, Target: ref.Target}
		if ref.Mode != nil {
			f.Mode = uint32(*ref.Mode)
		}
		switch {
		case kind == "secret" && f.Target == "":
			f.Target = "/run/secrets/" + ref.Source
		case kind == "secret" && !path.IsAbs(f.Target):
			f.Target = "/run/secrets/" + f.Target
		case f.Target == "":
			f.Target = "/" + ref.Source
		case !path.IsAbs(f.Target):
			f.Target = "/" + f.Target
		}
		ladderName, _ := def.Extensions[XLadderSecret].(string)
		var load func() ([]byte, error)
		switch {
		case ladderName != "":
			f.Source = "ladder:" + ladderName
			load = func() ([]byte, error) {
				v, err := opts.Secrets(ladderName)
				if err != nil {
					return nil, fmt.Errorf("%s %s: ladder secret %s of %s: %w", kind, ref.Source, ladderName, envName, err)
				}
				return []byte(v), nil
			}
		case def.Environment != "":
			f.Source = "environment:" + def.Environment
			load = func() ([]byte, error) {
				// The environment's ladder secret of that name first, so a
				// rung brings its own; then the variable, as for compose.
				v, err := opts.Secrets(def.Environment)
				if err == nil {
					return []byte(v), nil
				}
				if !errors.Is(err, ErrSecretNotSet) {
					return nil, fmt.Errorf("%s %s: %w", kind, ref.Source, err)
				}
				// The project's environment: the variables ladder was
				// started with and the project's .env, as compose reads it.
				if v, ok := p.Environment[def.Environment]; ok {
					return []byte(v), nil
				}
				if opts.LookupEnv != nil {
					if v, ok := opts.LookupEnv(def.Environment); ok {
						return []byte(v), nil
					}
				}
				return nil, fmt.Errorf("%s %s: neither a ladder secret %s of %s (ladder secret set %s %s) nor the variable %s is set", kind, ref.Source, def.Environment, envName, envName, def.Environment, def.Environment)
			}
		case def.Content != "":
			f.Source = "content"
			content := def.Content
			load = func() ([]byte, error) { return []byte(content), nil }
		case def.File != "":
			rel := def.File
			if p.WorkingDir != "" {
				if r, ok := strings.CutPrefix(def.File, p.WorkingDir+"/"); ok {
					rel = "./" + r
				}
			}
			f.Source = "file:" + rel
			abs := def.File
			load = func() ([]byte, error) {
				b, err := opts.ReadFile(abs)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", kind, ref.Source, err)
				}
				return b, nil
			}
		default:
			errs = append(errs, fmt.Errorf("%s %s has no source: give it file, environment, content or %s", kind, ref.Source, XLadderSecret))
			return
		}
		if opts.ReadFile != nil {
			b, err := load()
			if err != nil {
				errs = append(errs, err)
				return
			}
			f.Content = b
		}
		files = append(files, f)
	}
	for _, s := range cs.Secrets {
		add("secret", types.FileReferenceConfig(s), types.FileObjectConfig(p.Secrets[s.Source]))
	}
	for _, c := range cs.Configs {
		add("config", types.FileReferenceConfig(c), types.FileObjectConfig(p.Configs[c.Source]))
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].Target < files[j].Target })
	for i := 1; i < len(files); i++ {
		if files[i].Target == files[i-1].Target {
			errs = append(errs, fmt.Errorf("%s %s and %s %s are both mounted at %s", files[i-1].Kind, files[i-1].Name, files[i].Kind, files[i].Name, files[i].Target))
		}
	}
	return files, errors.Join(errs...)
}

func mountOptions(m Mount) string {
	var opts []string
	if m.Propagation != "" {
		opts = append(opts, "propagation "+m.Propagation)
	}
	if m.NoCopy {
		opts = append(opts, "nocopy")
	}
	if m.TmpfsSize != 0 {
		opts = append(opts, fmt.Sprintf("size %d", m.TmpfsSize))
	}
	if m.TmpfsMode != 0 {
		opts = append(opts, fmt.Sprintf("mode %04o", m.TmpfsMode))
	}
	if len(opts) == 0 {
		return ""
	}
	return " (" + strings.Join(opts, ", ") + ")"
}

// lines is the text form of a runtime, one [name, value] per set field,
// in a fixed order.
func (rt *Runtime) lines() [][2]string {
	if rt == nil {
		return nil
	}
	var out [][2]string
	add := func(name, v string) {
		if v != "" {
			out = append(out, [2]string{name, v})
		}
	}
	flag := func(name string, on bool) {
		if on {
			add(name, "true")
		}
	}
	list := func(name string, l []string) { add(name, strings.Join(l, " ")) }
	num := func(name string, n int64) {
		if n != 0 {
			add(name, fmt.Sprint(n))
		}
	}
	kv := func(name string, m map[string]string) {
		for _, k := range sortedKeys(m) {
			add(name, k+"="+m[k])
		}
	}
	add("user", rt.User)
	add("hostname", rt.Hostname)
	add("domainname", rt.Domainname)
	kv("label", rt.Labels)
	add("stop signal", rt.StopSignal)
	flag("read-only", rt.ReadOnly)
	flag("init", rt.Init)
	flag("privileged", rt.Privileged)
	flag("tty", rt.Tty)
	flag("stdin open", rt.StdinOpen)
	list("cap add", rt.CapAdd)
	list("cap drop", rt.CapDrop)
	list("security", rt.SecurityOpt)
	kv("sysctl", rt.Sysctls)
	for _, u := range rt.Ulimits {
		add("ulimit", fmt.Sprintf("%s soft %d hard %d", u.Name, u.Soft, u.Hard))
	}
	list("extra host", rt.ExtraHosts)
	list("tmpfs", rt.Tmpfs)
	num("shm size", rt.ShmSize)
	add("network", rt.NetworkMode)
	add("ipc", rt.IPC)
	add("pid", rt.PID)
	list("dns", rt.DNS)
	list("dns search", rt.DNSSearch)
	list("dns option", rt.DNSOptions)
	list("group add", rt.GroupAdd)
	list("expose", rt.Expose)
	for _, n := range sortedKeys(rt.Aliases) {
		add("alias", n+": "+strings.Join(rt.Aliases[n], " "))
	}
	if l := rt.Logging; l != nil {
		opts := ""
		for _, k := range sortedKeys(l.Options) {
			opts += " " + k + "=" + l.Options[k]
		}
		add("logging", orDash(l.Driver)+opts)
	}
	lim := rt.Limits
	num("memory", lim.Memory)
	num("mem reserve", lim.MemoryReservation)
	num("memswap", lim.MemorySwap)
	num("swappiness", lim.MemorySwappiness)
	if lim.CPUs != 0 {
		add("cpus", fmt.Sprint(lim.CPUs))
	}
	num("cpu shares", lim.CPUShares)
	num("cpu quota", lim.CPUQuota)
	num("cpu period", lim.CPUPeriod)
	add("cpuset", lim.CPUSet)
	num("pids", lim.Pids)
	flag("oom kill off", lim.OOMKillDisable)
	num("oom score", lim.OOMScoreAdj)
	return out
}

func labelText(m map[string]string) string {
	s := ""
	for _, k := range sortedKeys(m) {
		s += " label " + k + "=" + m[k]
	}
	return s
}

// EffectiveLimits are the limits an instance runs with: the stack's
// (Runtime.Limits), with the environment's values (Resources) winning.
func (s *Service) EffectiveLimits() (Limits, error) {
	var lim Limits
	if s.Runtime != nil {
		lim = s.Runtime.Limits
	}
	if r := s.Resources; r != nil {
		if r.CPUs != "" {
			cpus, err := strconv.ParseFloat(r.CPUs, 64)
			if err != nil {
				return lim, fmt.Errorf("service %s: resources.cpus %q: %w", s.Name, r.CPUs, err)
			}
			lim.CPUs = cpus
		}
		if r.Memory != "" {
			mem, err := units.RAMInBytes(r.Memory)
			if err != nil {
				return lim, fmt.Errorf("service %s: resources.memory %q: %w", s.Name, r.Memory, err)
			}
			lim.Memory = mem
		}
	}
	return lim, nil
}

// Check renders every environment that runs (templates and all) with
// stand-in artifacts and secrets, and returns what Render would refuse at
// deploy time, by service: so `ladder validate` reports it first. Only
// what depends on artifacts or secret values is left for the deploy.
func Check(p *spec.Project) map[string][]error {
	out := map[string][]error{}
	snap := &snapshot.Snapshot{ID: strings.Repeat("0", 64), Artifacts: map[string]snapshot.Artifact{}}
	for name := range p.Stack.Compose.Services {
		snap.Artifacts[name] = snapshot.Artifact{Service: name, Digest: "sha256:" + strings.Repeat("0", 64)}
	}
	none := func(string) (Image, error) { return Image{}, nil }
	seen := map[string]bool{}
	for _, e := range p.Ladder.Environments {
		for _, s := range dependencyOrder(p.Stack.Compose) {
			if !e.Runs(p.Stack.Ext[s]) {
				continue
			}
			_, err := renderService(p, &e, s, snap, none, Options{Secrets: Placeholder})
			if err == nil {
				continue
			}
			for _, one := range unjoin(err) {
				if !seen[one.Error()] {
					seen[one.Error()] = true
					out[s] = append(out[s], one)
				}
			}
		}
	}
	return out
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}
