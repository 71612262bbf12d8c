package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

// startAll starts the new slots of every service of p, each service as
// soon as the services it depends on are ready, and awaits them. It
// returns every instance it started, also on error, so they can be undone.
func (t *Target) startAll(ctx context.Context, s *siteState, d *render.Desired, p *plan.Plan, timeout time.Duration, progress func(target.Progress)) ([]*instance, error) {
	t.mu.Lock()
	fronts := map[string]map[int]int{}
	for svc, ports := range t.peers[d.SiteRef] {
		fronts[svc] = ports
	}
	for svc, ports := range s.fronts {
		fronts[svc] = map[int]int{}
		for port, f := range ports {
			fronts[svc][port] = f.port
		}
	}
	t.mu.Unlock()
	// A service's aliases (container_name, networks.*.aliases, link
	// aliases) reach its fronts as its name does; a service's own name
	// wins over another's alias.
	for _, svc := range d.Services {
		for _, host := range svc.HostNames() {
			if _, taken := fronts[host]; !taken && fronts[svc.Name] != nil {
				fronts[host] = fronts[svc.Name]
			}
		}
	}

	var (
		mu      sync.Mutex
		started []*instance
	)
	err := target.StartInOrder(ctx, p, func(ctx context.Context, sp plan.ServicePlan) error {
		svc, ok := d.Service(sp.Service)
		if !ok {
			return nil
		}
		ins, err := t.launchService(ctx, s, d, svc, sp.Start, fronts, progress)
		mu.Lock()
		started = append(started, ins...)
		mu.Unlock()
		if err != nil {
			return err
		}
		launched := time.Now()
		for _, in := range ins {
			if err := t.await(ctx, in, sp.Await, timeout, progress); err != nil {
				return err
			}
		}
		t.opts.Logger.Debug("started", "service", svc.Name, "await", time.Since(launched))
		t.routeIfUnserved(s, svc.Name, ins)
		return nil
	})
	if err == nil && ctx.Err() != nil && len(started) > 0 {
		err = ctx.Err()
	}
	return started, err
}

func (t *Target) launchService(ctx context.Context, s *siteState, d *render.Desired, svc *render.Service, slots []string, fronts map[string]map[int]int, progress func(target.Progress)) ([]*instance, error) {
	begun := time.Now()
	rootfs, err := t.opts.Rootfs(ctx, svc.Digest)
	if err != nil {
		return nil, fmt.Errorf("service %s: unpacking artifact %s: %w", svc.Name, svc.Digest, err)
	}
	t.opts.Logger.Debug("rootfs", "service", svc.Name, "took", time.Since(begun))
	t.mu.Lock()
	s.rootfs[svc.Digest] = rootfs
	log, ok := s.logs[svc.Name]
	t.mu.Unlock()
	if !ok {
		if log, err = openServiceLog(logPath(t.opts.StateDir, d.SiteRef, svc.Name), svc.Logs); err != nil {
			return nil, fmt.Errorf("service %s: %w", svc.Name, err)
		}
		t.mu.Lock()
		s.logs[svc.Name] = log
		t.mu.Unlock()
	} else {
		log.setLimits(svc.Logs)
	}
	argv := mapArgv(rootfs, append(append([]string(nil), svc.Entrypoint...), svc.Command...))
	if len(argv) == 0 {
		return nil, fmt.Errorf("service %s: nothing to run: the image has no entrypoint and the stack no command", svc.Name)
	}
	dir := rootfs
	if svc.WorkingDir != "" && svc.WorkingDir != "/" {
		dir = rootfs + svc.WorkingDir
		if _, err := os.Stat(dir); err != nil {
			dir = rootfs
		}
	}
	var out []*instance
	for _, slot := range slots {
		ports := map[int]int{}
		for _, p := range svc.Ports {
			n, err := freePort()
			if err != nil {
				return out, fmt.Errorf("service %s: no free port: %w", svc.Name, err)
			}
			ports[p.Target] = n
		}
		in := &instance{
			t: t, site: d.SiteRef, svc: *svc, slot: slot, snapshot: d.Snapshot,
			argv: argv, dir: dir, ports: ports, log: log,
			env:     instanceEnv(d.SiteRef, d.Data, *svc, slot, d.Snapshot, rootfs, ports, fronts),
			state:   plan.StateStarting,
			changed: make(chan struct{}),
			done:    make(chan struct{}),
		}
		t.mu.Lock()
		if s.instances[svc.Name] == nil {
			s.instances[svc.Name] = map[string]*instance{}
		}
		prev := s.instances[svc.Name][slot]
		s.instances[svc.Name][slot] = in
		t.mu.Unlock()
		if prev != nil {
			// A slot is restarted only when its instance is not running.
			prev.stop(ctx)
		}
		// Supervision outlives the release that started the instance.
		runCtx, cancel := context.WithCancel(context.Background())
		in.cancel = cancel
		progress(target.Progress{Service: svc.Name, Slot: slot, Step: "starting"})
		go in.supervise(runCtx)
		out = append(out, in)
	}
	return out, nil
}

// await waits until in reaches cond, failing fast if it exits when it
// should be serving.
func (t *Target) await(ctx context.Context, in *instance, cond plan.Await, timeout time.Duration, progress func(target.Progress)) error {
	begun := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := in.wait(ctx, func(in *instance) (bool, error) {
		in.mu.Lock()
		state, health, code, restarts := in.state, in.health, in.exitCode, in.restarts
		in.mu.Unlock()
		exited := state == plan.StateExited || state == plan.StateRestarting || restarts > 0
		switch cond {
		case plan.AwaitCompleted:
			if exited && code == 0 && state == plan.StateExited {
				return true, nil
			}
			if exited && code != 0 {
				return false, in.failure(fmt.Sprintf("exited with code %d", code))
			}
			return false, nil
		case plan.AwaitHealthy:
			if exited {
				return false, in.failure(fmt.Sprintf("exited with code %d before becoming healthy", code))
			}
			return health == plan.HealthHealthy, nil
		default:
			if exited {
				return false, in.failure(fmt.Sprintf("exited with code %d right after starting", code))
			}
			return state == plan.StateRunning, nil
		}
	})
	switch {
	case err == nil:
		step := map[plan.Await]string{plan.AwaitCompleted: "completed", plan.AwaitHealthy: "healthy"}[cond]
		if step == "" {
			step = "started"
		}
		progress(target.Progress{Service: in.svc.Name, Slot: in.slot, Step: step, Elapsed: time.Since(begun)})
		return nil
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil && time.Since(begun) >= timeout:
		in.mu.Lock()
		detail := in.detail
		in.mu.Unlock()
		reason := fmt.Sprintf("not %s after %s", cond, timeout)
		if detail != "" {
			reason += ": last check: " + detail
		}
		err = in.failure(reason)
		progress(target.Progress{Service: in.svc.Name, Slot: in.slot, Step: "failed", Detail: reason, Elapsed: time.Since(begun)})
		return fmt.Errorf("%w (%w)", err, target.ErrTimeout)
	default:
		var de *target.DeployError
		if errors.As(err, &de) {
			progress(target.Progress{Service: in.svc.Name, Slot: in.slot, Step: "failed", Detail: de.Reason, Elapsed: time.Since(begun)})
		}
		return err
	}
}

func (in *instance) failure(reason string) error {
	// Give the output pipe a moment to drain the last lines of a crash.
	time.Sleep(50 * time.Millisecond)
	return &target.DeployError{Service: in.svc.Name, Slot: in.slot, Reason: reason, LastLines: in.lastLines()}
}

// routeIfUnserved routes the service's fronts that serve no instance yet
// (its first release, or a port it did not have) to its new instances as
// soon as they are ready, so that the services started after it, whose
// health may depend on reaching it, reach it through its front. Fronts
// that serve instances of the previous release switch over only when the
// whole release is ready.
func (t *Target) routeIfUnserved(s *siteState, service string, ins []*instance) {
	if len(ins) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range s.fronts[service] {
		f.mu.RLock()
		unserved := len(f.backends) == 0
		f.mu.RUnlock()
		if unserved {
			f.route(ins)
		}
	}
}
