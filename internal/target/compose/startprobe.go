package compose

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
)

// execEngine is the part of the Engine API that runs a service's
// healthcheck command in its container; *client.Client implements it. An
// Engine without it waits for Docker's own checks.
type execEngine interface {
	ContainerExecCreate(ctx context.Context, containerID string, options container.ExecOptions) (container.ExecCreateResponse, error)
	ContainerExecStart(ctx context.Context, execID string, config container.ExecStartOptions) error
	ContainerExecInspect(ctx context.Context, execID string) (container.ExecInspect, error)
}

var _ execEngine = (*client.Client)(nil)

// startCheck is where a container's prompt start check stands, kept
// beside the probers so that its health is shown until Docker's own check
// has run once.
type startCheck struct {
	last    time.Time
	healthy bool
}

// checkStarting runs svc's healthcheck command in a container whose
// Docker health is still "starting", at most once per startProbeEvery,
// and reports whether it passed. Docker runs the first check only after
// a whole interval (engines before API 1.44 have no start interval), so
// a dependency that is ready in two seconds would otherwise hold its
// dependents for the interval. Once a check passes the container counts
// as healthy until Docker's checks speak (see mergeHealth); a failing
// check counts for nothing: Docker's own retries decide unhealthy.
func (t *Target) checkStarting(ctx context.Context, id string, svc render.Service) bool {
	ex, ok := t.opts.Engine.(execEngine)
	h := svc.Health
	if !ok || h == nil || len(h.Command) == 0 {
		return false
	}
	t.mu.Lock()
	sc := t.starts[id]
	if sc == nil {
		sc = &startCheck{}
		t.starts[id] = sc
	}
	due := !sc.healthy && time.Since(sc.last) >= startProbeEvery
	if due {
		sc.last = time.Now()
	}
	healthy := sc.healthy
	t.mu.Unlock()
	if !due {
		return healthy
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if !execPasses(ctx, ex, id, h.Command) {
		return false
	}
	t.mu.Lock()
	sc.healthy = true
	t.mu.Unlock()
	return true
}

// execPasses runs cmd in the container and reports whether it exited 0
// before ctx ended.
func execPasses(ctx context.Context, ex execEngine, id string, cmd []string) bool {
	created, err := ex.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd})
	if err != nil {
		return false
	}
	if err := ex.ContainerExecStart(ctx, created.ID, container.ExecStartOptions{Detach: true}); err != nil {
		return false
	}
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		info, err := ex.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return false
		}
		if !info.Running && info.Pid != 0 || !info.Running && info.ExitCode != 0 {
			return info.ExitCode == 0
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

// startHealth is the health a prompt start check gives a container whose
// Docker health is docker: healthy once a check passed while Docker's
// own checks have not run yet, else "".
func (t *Target) startHealth(id, docker string) string {
	if docker != "starting" {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if sc := t.starts[id]; sc != nil && sc.healthy {
		return plan.HealthHealthy
	}
	return ""
}

// forgetStart drops a container's start check.
func (t *Target) forgetStart(id string) {
	t.mu.Lock()
	delete(t.starts, id)
	t.mu.Unlock()
}
