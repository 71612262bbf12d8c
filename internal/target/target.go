package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
)

// Target runs sites of one runtime kind.
type Target interface {
	// Kind names the runtime: "process", "compose", ...
	Kind() string
	// Observe reads what site runs, once.
	Observe(ctx context.Context, site render.SiteRef) (*plan.Observed, error)
	// Apply carries out p so that the site runs d. It starts the new slots
	// in dependency order and awaits them, then routes traffic to the
	// desired instances, then stops the old ones. If a start or an await
	// fails, Apply stops what it started, leaves the previous instances
	// serving and returns the error (a *DeployError when an instance is to
	// blame).
	Apply(ctx context.Context, d *render.Desired, p *plan.Plan, opts ApplyOptions) error
	// Down stops and removes everything of site; named volumes only when
	// opts.Volumes is set, so data survives a down by default.
	Down(ctx context.Context, site render.SiteRef, opts DownOptions) error
	// Endpoints returns where each service of site can be reached from the
	// host, for people and for probes.
	Endpoints(site render.SiteRef) []Endpoint
	// Logs writes the captured output of service (every service when
	// empty) to w; with Follow it keeps writing until ctx ends.
	Logs(ctx context.Context, site render.SiteRef, service string, opts LogOptions, w io.Writer) error
}

// DownOptions tune Down.
type DownOptions struct {
	// Volumes also removes the site's named volumes.
	Volumes bool
}

// ApplyOptions tune one Apply.
type ApplyOptions struct {
	// HealthTimeout bounds each service's wait for its new instances.
	HealthTimeout time.Duration
	// Progress, when set, is told of each step as it happens.
	Progress func(Progress)
	// Previous is the desired state the site ran before this release,
	// when known. A target that applies a release in parts (the hybrid
	// target: the engine half, then the native half) puts the parts it
	// already changed back to it when a later part fails, so a failed
	// release leaves the previous one running as a whole.
	Previous *render.Desired
}

// Progress is one step of an Apply.
type Progress struct {
	Service string
	Slot    string
	// Step is "starting", "started", "healthy", "completed", "routed",
	// "stopped" or "failed".
	Step    string
	Detail  string
	Elapsed time.Duration
}

// Endpoint is one published port of a service.
type Endpoint struct {
	Service string `json:"service"`
	// Target is the service's own (container) port.
	Target int `json:"target"`
	// URL is how the host reaches it, e.g. "http://127.0.0.1:3000".
	URL string `json:"url"`
}

// LogOptions select log output.
type LogOptions struct {
	Follow bool
	// Tail limits output to the last N lines per service (0: all).
	Tail int
}

// DeployError says which instance failed a release and shows what it
// last printed, so the user sees the cause without digging in log files.
type DeployError struct {
	Service string
	Slot    string
	// Reason is what went wrong, e.g. "exited with code 1" or "not
	// healthy after 60s: HTTP 503".
	Reason string
	// LastLines are the instance's last lines of output.
	LastLines []string
}

func (e *DeployError) Error() string {
	return fmt.Sprintf("service %s (%s): %s", e.Service, e.Slot, e.Reason)
}

// ErrTimeout marks health waits that ran out of time.
var ErrTimeout = errors.New("timed out")

// PortInUseError is returned when a port a service must publish is taken.
type PortInUseError struct {
	Service string
	Port    int
	Err     error
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("service %s: port %d is already in use on this host: %v", e.Service, e.Port, e.Err)
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// Inspector is a target that can read what a site runs in full, for
// drift detection.
type Inspector interface {
	Inspect(ctx context.Context, site render.SiteRef) (*drift.Live, error)
}

// Watcher is a target that reports changes to a site as they happen.
type Watcher interface {
	// Watch calls changed, with a word on what happened, each time the
	// runtime reports a change to the site, until ctx ends.
	Watch(ctx context.Context, site render.SiteRef, changed func(what string))
}

// Describer is a target that can say how to reach a site with the
// runtime's own tools (for Compose: the project name and file).
type Describer interface {
	Describe(site render.SiteRef) map[string]string
}

// Placer is a target that runs each service of a site on one of two
// sides (native process or engine container).
type Placer interface {
	// Place says where each service of d runs.
	Place(ctx context.Context, d *render.Desired) (map[string]Side, error)
	// Sides says where each service of site ran in the last release the
	// target applied, or was last seen.
	Sides(site render.SiteRef) map[string]Side
}

// Releaser is a target whose instances are children of the ladder
// process that runs them (the process target, the native half of the
// hybrid one), so they cannot outlive it. An engine that hands its sites
// over to the next one (a SIGTERM of `ladder serve`) calls Release for
// each: the instances stop as `ladder down` stops them, each with its
// stop signal and grace period, rather than being killed as the process
// exits, and the next owner starts the site again. What outlives the
// process (containers) is left running; nothing is recorded as down.
type Releaser interface {
	Release(ctx context.Context, site render.SiteRef) error
}

// Syncer is a target that can change a service's running instances in
// place, for `ladder up --watch` on a rung that is neither protected nor
// shared: what runs then differs from the snapshot until the next build.
type Syncer interface {
	// Sync copies each file's Src into every running instance of service
	// at Dst (an absolute path inside the instance); a Src that no longer
	// exists is removed at Dst.
	Sync(ctx context.Context, site render.SiteRef, service string, files []SyncFile) error
	// Restart restarts every running instance of service in place.
	Restart(ctx context.Context, site render.SiteRef, service string) error
}

// SyncFile is one file for Syncer.Sync.
type SyncFile struct {
	Src, Dst string
}
