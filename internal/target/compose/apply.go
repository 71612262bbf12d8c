package compose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

// started is a container this Apply created and started.
type started struct {
	id, name string
	svc      render.Service
	slot     string
	// fullAlias says the container already answers to the service's name.
	fullAlias bool
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
	project := t.Project(d.SiteRef)
	t.forgetInspections()
	defer t.forgetInspections()
	existing, err := t.containers(ctx, d.SiteRef)
	if err != nil {
		return err
	}
	byName := map[string]string{}
	for _, c := range existing {
		byName[name(c)] = c.ID
	}

	// Everything that can fail without changing the site comes first.
	refs := map[string]string{}
	for _, sp := range p.Services {
		if len(sp.Start) == 0 {
			continue
		}
		svc, _ := d.Service(sp.Service)
		ref, err := t.ensureImage(ctx, d.Stack, svc, progress)
		if err != nil {
			return err
		}
		refs[svc.Name] = ref
	}
	recreate, err := t.checkPorts(d, p, existing)
	if err != nil {
		return err
	}
	if err := t.ensureNetworks(ctx, project, d); err != nil {
		return err
	}
	if err := t.ensureVolumes(ctx, project, d); err != nil {
		return err
	}

	// A service on a fixed host port cannot run twice: stop its old
	// containers now, and start them again if the release fails.
	var paused []string
	for svc := range recreate {
		sp, _ := p.Service(svc)
		for _, o := range sp.Stop {
			if id, ok := byName[containerName(project, o.Service, o.Slot)]; ok {
				grace := int(stopGrace(d, svc).Seconds())
				if err := t.opts.Engine.ContainerStop(ctx, id, container.StopOptions{Timeout: &grace}); err != nil && !isNotFound(err) {
					return fmt.Errorf("stopping %s to free its port: %w", o.Slot, err)
				}
				paused = append(paused, id)
			}
		}
	}

	var (
		mu  sync.Mutex
		new []started
	)
	err = target.StartInOrder(ctx, p, func(ctx context.Context, sp plan.ServicePlan) error {
		svc, ok := d.Service(sp.Service)
		if !ok {
			return nil
		}
		// The service's name points at the new containers at once when no
		// old ones serve it; otherwise only after they are all ready.
		full := sp.Action == plan.ActionCreate || recreate[svc.Name] || len(sp.Keep) == 0 && !hasRunning(sp.Stop)
		for _, slot := range sp.Start {
			progress(target.Progress{Service: svc.Name, Slot: slot, Step: "starting"})
			c, err := t.startContainer(ctx, project, d, *svc, slot, refs[svc.Name], full, byName)
			if c.id != "" {
				mu.Lock()
				new = append(new, c)
				mu.Unlock()
			}
			if err != nil {
				return err
			}
		}
		for _, c := range new {
			if c.svc.Name != svc.Name {
				continue
			}
			if err := t.await(ctx, d.SiteRef, c, sp.Await, opts.HealthTimeout, progress); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		undo, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		for _, c := range new {
			t.remove(undo, c.id, 0)
		}
		for _, id := range paused {
			_ = t.opts.Engine.ContainerStart(undo, id, container.StartOptions{})
		}
		return err
	}

	// Switch: the new containers take the service's name.
	for _, c := range new {
		if c.fullAlias {
			continue
		}
		if err := t.takeServiceAlias(ctx, project, d.SiteRef, d.Snapshot, c); err != nil {
			return err
		}
	}
	t.mu.Lock()
	for _, sp := range p.Services {
		for _, slot := range sp.Keep {
			t.adopted[containerName(project, sp.Service, slot)] = d.Snapshot
		}
	}
	t.mu.Unlock()

	// Stop the old containers, dependents first.
	for i := len(p.Services) - 1; i >= 0; i-- {
		sp := p.Services[i]
		for _, o := range sp.Stop {
			if slices.Contains(sp.Start, o.Slot) {
				continue // replaced in place
			}
			if id, ok := byName[containerName(project, o.Service, o.Slot)]; ok {
				t.remove(ctx, id, stopGrace(d, sp.Service))
				progress(target.Progress{Service: o.Service, Slot: o.Slot, Step: "stopped"})
			}
		}
	}
	if err := t.writeComposeFile(d); err != nil {
		t.opts.Logger.Warn("writing the site's compose file", "err", err)
	}
	return nil
}

func hasRunning(ins []plan.Instance) bool {
	for _, in := range ins {
		if in.State != plan.StateExited {
			return true
		}
	}
	return false
}

func stopGrace(d *render.Desired, service string) time.Duration {
	if svc, ok := d.Service(service); ok {
		return svc.StopGrace
	}
	return render.DefaultStopGrace
}

// ensureImage makes the service's artifact available in the engine.
func (t *Target) ensureImage(ctx context.Context, stack string, svc *render.Service, progress func(target.Progress)) (string, error) {
	if t.opts.Registry.Address != "" {
		return t.pullImage(ctx, stack, svc, progress)
	}
	ref := build.ImageRef(stack, svc.Name, svc.Digest)
	t.mu.Lock()
	_, ok := t.images[ref]
	t.mu.Unlock()
	if ok {
		return ref, nil
	}
	img, err := t.opts.Images(svc.Digest)
	if err != nil {
		return "", fmt.Errorf("service %s: %w", svc.Name, err)
	}
	begun := time.Now()
	loading := t.imageMissing(ctx, img)
	if loading {
		progress(target.Progress{Service: svc.Name, Step: "loading", Detail: fmt.Sprintf("image %s (%s) into the engine", ref, imageSize(img))})
	}
	id, err := build.LoadImage(ctx, t.opts.Engine, img, ref)
	if loading && err == nil {
		progress(target.Progress{Service: svc.Name, Step: "loaded", Elapsed: time.Since(begun)})
	}
	if err != nil {
		return "", fmt.Errorf("service %s: loading its image into the engine: %w", svc.Name, t.engineErr(err))
	}
	t.mu.Lock()
	t.images[ref] = id
	t.mu.Unlock()
	return ref, nil
}

// checkPorts refuses a release whose fixed host ports are taken by
// anything but the old containers of the same service, and returns the
// services that must be recreated in place to free their port.
func (t *Target) checkPorts(d *render.Desired, p *plan.Plan, existing []container.Summary) (map[string]bool, error) {
	held := map[int]string{} // host port -> service of ours publishing it
	for _, c := range existing {
		for _, port := range c.Ports {
			if port.PublicPort != 0 && c.State == "running" {
				held[int(port.PublicPort)] = c.Labels[labelService]
			}
		}
	}
	recreate := map[string]bool{}
	var errs []error
	for _, sp := range p.Services {
		if len(sp.Start) == 0 {
			continue
		}
		svc, _ := d.Service(sp.Service)
		for _, port := range svc.Ports {
			if !fixedPort(port) {
				continue
			}
			if owner, ok := held[port.Published]; ok {
				if owner == svc.Name {
					recreate[svc.Name] = true
					continue
				}
				errs = append(errs, &target.PortInUseError{Service: svc.Name, Port: port.Published, Err: fmt.Errorf("published by service %s of this site", owner)})
				continue
			}
			ln, err := net.Listen(port.Protocol, net.JoinHostPort(port.HostIP, strconv.Itoa(port.Published)))
			if err != nil {
				errs = append(errs, &target.PortInUseError{Service: svc.Name, Port: port.Published, Err: err})
				continue
			}
			ln.Close()
		}
	}
	return recreate, errors.Join(errs...)
}

// remove stops (within grace) and removes a container.
func (t *Target) remove(ctx context.Context, id string, grace time.Duration) {
	t.forgetProber(id)
	t.forgetStart(id)
	t.mu.Lock()
	cname, files := t.fileDirs[id]
	delete(t.fileDirs, id)
	t.mu.Unlock()
	if files {
		defer t.removeFiles(cname)
	}
	secs := int(grace.Seconds())
	_ = t.opts.Engine.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs})
	if err := t.opts.Engine.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil && !isNotFound(err) {
		t.opts.Logger.Warn("removing container", "id", shortID(id), "err", err)
	}
}

// takeServiceAlias reconnects a new container to its networks answering
// to the service's name, which moves the service's traffic to it.
func (t *Target) takeServiceAlias(ctx context.Context, project string, site render.SiteRef, snapshot string, c started) error {
	t.moving(c.id)
	defer t.readdress(site, snapshot, c.id, c.name, "", c.svc) // resumes probing if the switch fails
	for _, netName := range serviceNetworks(c.svc) {
		full := networkName(project, netName)
		if err := t.opts.Engine.NetworkDisconnect(ctx, full, c.id, true); err != nil && !isNotFound(err) {
			return fmt.Errorf("switching %s to %s: %w", c.svc.Name, c.name, err)
		}
		err := t.opts.Engine.NetworkConnect(ctx, full, c.id, &network.EndpointSettings{Aliases: aliases(c.svc, netName, c.name, true)})
		if err != nil {
			return fmt.Errorf("switching %s to %s: %w", c.svc.Name, c.name, err)
		}
	}
	if info, err := t.opts.Engine.ContainerInspect(ctx, c.id); err == nil {
		t.readdress(site, snapshot, c.id, c.name, probeAddr(info, c.svc), c.svc)
	}
	return nil
}

// serviceNetworks are the project networks svc joins, the first at
// creation; none for a service with its own network_mode.
func serviceNetworks(svc render.Service) []string {
	if svc.Runtime != nil && svc.Runtime.NetworkMode != "" {
		return nil
	}
	if len(svc.Networks) == 0 {
		return []string{"default"}
	}
	return svc.Networks
}
