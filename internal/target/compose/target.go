package compose

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ladderhq/ladder/internal/atomicfile"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/target"
)

var _ target.Target = (*Target)(nil)

// Compose label keys, as docker-compose and `docker compose` write them.
const (
	labelProject    = "com.docker.compose.project"
	labelService    = "com.docker.compose.service"
	labelNumber     = "com.docker.compose.container-number"
	labelOneoff     = "com.docker.compose.oneoff"
	labelWorkingDir = "com.docker.compose.project.working_dir"
	labelConfigFile = "com.docker.compose.project.config_files"
	labelConfigHash = "com.docker.compose.config-hash"
	labelVersion    = "com.docker.compose.version"
	labelNetwork    = "com.docker.compose.network"
	labelVolume     = "com.docker.compose.volume"
	// composeVersion is the Compose file version recorded on resources;
	// docker-compose compares it only to warn.
	composeVersion = "2.0.0"
)

// Options configure a compose target.
type Options struct {
	Engine Engine
	// Stack is the stack name; with the site it names the Compose project.
	Stack string
	// Images returns an artifact's image from ladder's artifact store, to
	// load into the engine when it lacks it.
	Images func(digest string) (v1.Image, error)
	// Registry, when its Address is set, is where the engine pulls the
	// site's images from, by digest (build.RegistryRef), instead of being
	// given them from the artifact store; a promotion pushed them there.
	Registry build.Registry
	// RegistryAuth returns the engine's X-Registry-Auth value for a
	// registry host (see registry.EncodeAuthConfig); nil or "" pulls
	// anonymously.
	RegistryAuth func(host string) string
	// WorkingDir and ConfigFile are recorded in the Compose labels so
	// docker-compose run from the project directory recognises the project.
	WorkingDir, ConfigFile string
	// ComposeDir, when set, receives after every release the site's
	// desired state as a Compose file (PROJECT.yml) that docker-compose
	// reads: `docker-compose -p PROJECT -f FILE ps`.
	ComposeDir string
	// Events, when set, receives what happens to instances.
	Events func(store.Event)
	Logger *slog.Logger
}

// Target runs sites as Compose projects.
type Target struct {
	opts Options

	mu sync.Mutex
	// adopted records, per container name, the snapshot an unchanged
	// container was carried into (container labels cannot change).
	adopted map[string]string
	// images caches the image references known loaded in the engine.
	images  map[string]string
	probers map[string]*prober // by container ID
	// starts holds the prompt start checks of containers whose Docker
	// healthcheck has not run yet (see checkStarting), by container ID.
	starts map[string]*startCheck
	// inspections caches container inspections for the read paths.
	inspections map[string]inspected
	// fileDirs names, by container ID, the containers whose secrets and
	// configs were written to files (see fileMounts).
	fileDirs map[string]string
}

// New returns a compose target.
func New(opts Options) *Target {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Target{opts: opts, adopted: map[string]string{}, images: map[string]string{}, probers: map[string]*prober{}, starts: map[string]*startCheck{}, inspections: map[string]inspected{}, fileDirs: map[string]string{}}
}

// Kind implements target.Target.
func (t *Target) Kind() string { return "compose" }

var unsafeName = regexp.MustCompile(`[^a-z0-9_-]+`)

// ProjectName is the Compose project a site of a stack runs as.
func ProjectName(stack string, site render.SiteRef) string {
	name := strings.ToLower(stack + "-" + site.Env + "-" + site.Site)
	return strings.Trim(unsafeName.ReplaceAllString(name, "-"), "-_")
}

// Project is the Compose project of site.
func (t *Target) Project(site render.SiteRef) string { return ProjectName(t.opts.Stack, site) }

func containerName(project, service, slot string) string {
	return project + "-" + service + "-" + slot
}

func networkName(project, net string) string { return project + "_" + net }

// ProjectFilter selects the engine objects of a Compose project.
func ProjectFilter(project string) filters.Args { return projectFilter(project) }

func projectFilter(project string) filters.Args {
	return filters.NewArgs(filters.Arg("label", labelProject+"="+project))
}

// ForeignProjectError says the site's Compose project name is already
// used by containers run from another directory.
type ForeignProjectError struct {
	Project, Dir, Other string
}

func (e *ForeignProjectError) Error() string {
	return fmt.Sprintf("Compose project %s is already run from %s, not %s: give this stack another name (compose.yaml's name:, or COMPOSE_PROJECT_NAME), or stop the other one first (docker-compose -p %s down)",
		e.Project, e.Other, e.Dir, e.Project)
}

// containers lists the site's containers, running or not. Containers of
// the same project name run from another directory belong to someone
// else: touching them would break their stack, so that is an error.
func (t *Target) containers(ctx context.Context, site render.SiteRef) ([]container.Summary, error) {
	cs, err := t.opts.Engine.ContainerList(ctx, container.ListOptions{All: true, Filters: projectFilter(t.Project(site))})
	if err != nil {
		return nil, t.engineErr(err)
	}
	if t.opts.WorkingDir != "" {
		for _, c := range cs {
			if dir := c.Labels[labelWorkingDir]; dir != "" && dir != t.opts.WorkingDir {
				return nil, &ForeignProjectError{Project: t.Project(site), Dir: t.opts.WorkingDir, Other: dir}
			}
		}
	}
	sort.Slice(cs, func(i, j int) bool { return name(cs[i]) < name(cs[j]) })
	return cs, nil
}

func name(c container.Summary) string {
	if len(c.Names) == 0 {
		return c.ID
	}
	return strings.TrimPrefix(c.Names[0], "/")
}

// engineErr turns a connection failure into an UnreachableError.
func (t *Target) engineErr(err error) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "Cannot connect to the Docker daemon") || strings.Contains(err.Error(), "connection refused") {
		return &UnreachableError{Host: "the configured engine", Err: err}
	}
	return err
}

// Observe implements target.Target.
func (t *Target) Observe(ctx context.Context, site render.SiteRef) (*plan.Observed, error) {
	cs, err := t.containers(ctx, site)
	if err != nil {
		return nil, err
	}
	obs := &plan.Observed{SiteRef: site}
	for _, c := range cs {
		if c.Labels[labelOneoff] == "True" || c.Labels[drift.LabelSlot] == "" {
			continue
		}
		in, err := t.instance(ctx, c)
		if err != nil {
			if isNotFound(err) {
				continue // removed while we looked
			}
			return nil, err
		}
		obs.Instances = append(obs.Instances, in)
	}
	return obs, nil
}

func (t *Target) instance(ctx context.Context, c container.Summary) (plan.Instance, error) {
	info, err := t.inspect(ctx, c.ID)
	if err != nil {
		return plan.Instance{}, t.engineErr(err)
	}
	in := plan.Instance{
		Service:  c.Labels[drift.LabelService],
		Slot:     c.Labels[drift.LabelSlot],
		Snapshot: c.Labels[drift.LabelSnapshot],
		Digest:   c.Labels[drift.LabelDigest],
		Config:   c.Labels[drift.LabelConfig],
		ID:       shortID(c.ID),
		Ports:    map[int]int{},
	}
	t.mu.Lock()
	if s, ok := t.adopted[name(c)]; ok {
		in.Snapshot = s
	}
	pr := t.probers[c.ID]
	t.mu.Unlock()
	st := info.State
	switch {
	case st == nil:
		in.State = plan.StateStarting
	case st.Restarting:
		in.State = plan.StateRestarting
	case st.Running:
		in.State = plan.StateRunning
	case st.Status == "created":
		in.State = plan.StateStarting
	default:
		in.State = plan.StateExited
		in.ExitCode = st.ExitCode
	}
	in.Restarts = info.RestartCount
	if st != nil && st.StartedAt != "" {
		in.Started, _ = parseTime(st.StartedAt)
	}
	in.Health = mergeHealth(st, pr)
	if st != nil && st.Health != nil && pr == nil {
		if h := t.startHealth(c.ID, st.Health.Status); h != "" {
			in.Health = h
		}
	}
	if info.NetworkSettings != nil {
		for _, ep := range info.NetworkSettings.Networks {
			if ep != nil && ep.IPAddress != "" {
				in.Addr = ep.IPAddress
				break
			}
		}
	}
	if info.Config != nil {
		for p := range info.Config.ExposedPorts {
			n := p.Int()
			in.Ports[n] = n
		}
	}
	return in, nil
}

// mergeHealth combines Docker's own health check with ladder's HTTP probe:
// an unhealthy verdict from either wins; otherwise ladder's quicker probe
// speaks first while Docker's check waits out its first interval.
func mergeHealth(st *container.State, pr *prober) string {
	docker := ""
	if st != nil && st.Health != nil {
		docker = st.Health.Status
	}
	mine := ""
	if pr != nil {
		mine = pr.health()
	}
	switch {
	case docker == "unhealthy" || mine == plan.HealthUnhealthy:
		return plan.HealthUnhealthy
	case mine != "":
		return mine
	}
	return docker
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Endpoints implements target.Target: the host ports the site's running
// containers publish.
func (t *Target) Endpoints(site render.SiteRef) []target.Endpoint {
	cs, err := t.containers(context.Background(), site)
	if err != nil {
		return nil
	}
	var out []target.Endpoint
	seen := map[string]bool{}
	for _, c := range cs {
		if c.State != "running" {
			continue
		}
		for _, p := range c.Ports {
			if p.PublicPort == 0 || (p.IP != "" && p.IP != "0.0.0.0" && p.IP != "127.0.0.1") {
				continue
			}
			url := fmt.Sprintf("http://127.0.0.1:%d", p.PublicPort)
			if seen[url] {
				continue
			}
			seen[url] = true
			out = append(out, target.Endpoint{Service: c.Labels[drift.LabelService], Target: int(p.PrivatePort), URL: url})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].URL < out[j].URL
	})
	return out
}

func (t *Target) event(site render.SiteRef, snapshot, service string, kind store.EventKind, msg string, attrs map[string]string) {
	if t.opts.Events == nil {
		return
	}
	t.opts.Events(store.Event{Kind: kind, Env: site.Env, Site: site.Site, Snapshot: snapshot, Service: service, Message: msg, Attrs: attrs})
}

func replicaOf(slot string) string {
	n, _, _ := strings.Cut(slot, "-")
	if _, err := strconv.Atoi(n); err != nil {
		return "1"
	}
	return n
}

// ComposeFilePath is where the site's rendered Compose file is written.
func (t *Target) ComposeFilePath(site render.SiteRef) string {
	if t.opts.ComposeDir == "" {
		return ""
	}
	return filepath.Join(t.opts.ComposeDir, t.Project(site)+".yml")
}

// Describe implements target.Describer: the Compose project of the site
// and the file docker-compose can use with it.
func (t *Target) Describe(site render.SiteRef) map[string]string {
	out := map[string]string{"project": t.Project(site)}
	if f := t.ComposeFilePath(site); f != "" {
		if _, err := os.Stat(f); err == nil {
			out["composeFile"] = f
			out["hint"] = fmt.Sprintf("docker-compose -p %s -f %s ps", t.Project(site), f)
		}
	}
	return out
}

// writeComposeFile renders d as the site's Compose file.
func (t *Target) writeComposeFile(d *render.Desired) error {
	path := t.ComposeFilePath(d.SiteRef)
	if path == "" {
		return nil
	}
	b, err := render.ComposeFile(d, func(service, digest string) string {
		if t.opts.Registry.Address != "" {
			return build.RegistryRef(t.opts.Registry.Address, d.Stack, service, digest)
		}
		return build.ImageRef(d.Stack, service, digest)
	}, t.opts.WorkingDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o600)
}
