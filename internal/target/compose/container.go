package compose

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"

	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/target"
)

// startContainer creates and starts one slot of svc. A leftover container
// with the same name (an exited one being restarted) is removed first.
func (t *Target) startContainer(ctx context.Context, project string, d *render.Desired, svc render.Service, slot, ref string, fullAlias bool, byName map[string]string) (started, error) {
	cname := containerName(project, svc.Name, slot)
	c := started{name: cname, svc: svc, slot: slot, fullAlias: fullAlias}
	if id, ok := byName[cname]; ok {
		t.remove(ctx, id, 0)
	}
	cfg, host, netCfg, err := t.containerSpec(project, d, svc, slot, ref, fullAlias)
	if err != nil {
		return c, err
	}
	mounts, err := t.fileMounts(cname, svc)
	if err != nil {
		return c, fmt.Errorf("service %s: writing its secrets and configs: %w", svc.Name, err)
	}
	host.Mounts = append(host.Mounts, mounts...)
	resp, err := t.opts.Engine.ContainerCreate(ctx, cfg, host, netCfg, nil, cname)
	if err != nil {
		t.removeFiles(cname)
		return c, fmt.Errorf("service %s: creating %s: %w", svc.Name, cname, t.engineErr(err))
	}
	c.id = resp.ID
	if len(mounts) > 0 {
		t.mu.Lock()
		t.fileDirs[c.id] = cname
		t.mu.Unlock()
	}
	if err := t.copyFiles(ctx, c.id, svc); err != nil {
		if removedWhileStarting(err) {
			return c, &target.DeployError{Service: svc.Name, Slot: slot, Reason: "its container was removed while it started"}
		}
		return c, err
	}
	nets := serviceNetworks(svc)
	for i := 1; i < len(nets); i++ {
		n := nets[i]
		err := t.opts.Engine.NetworkConnect(ctx, networkName(project, n), c.id, &network.EndpointSettings{Aliases: aliases(svc, n, cname, fullAlias)})
		if err != nil {
			return c, fmt.Errorf("service %s: joining network %s: %w", svc.Name, n, err)
		}
	}
	if err := t.opts.Engine.ContainerStart(ctx, c.id, container.StartOptions{}); err != nil {
		if removedWhileStarting(err) {
			return c, &target.DeployError{Service: svc.Name, Slot: slot, Reason: "its container was removed while it started"}
		}
		return c, portError(svc, fmt.Errorf("service %s: starting %s: %w", svc.Name, cname, t.engineErr(err)))
	}
	t.event(d.SiteRef, d.Snapshot, svc.Name, store.EventInstanceStarted, fmt.Sprintf("%s started (container %s)", cname, shortID(c.id)), nil)
	if info, err := t.opts.Engine.ContainerInspect(ctx, c.id); err == nil {
		t.probe(d.SiteRef, d.Snapshot, c.id, cname, probeAddr(info, svc), svc)
	}
	return c, nil
}

// removedWhileStarting recognises the engine saying a container that was
// just created is gone or going (someone removed it).
func removedWhileStarting(err error) bool {
	return isNotFound(err) || strings.Contains(err.Error(), "marked for removal")
}

// portError recognises the engine refusing a host port.
func portError(svc render.Service, err error) error {
	msg := err.Error()
	if !strings.Contains(msg, "port is already allocated") && !strings.Contains(msg, "address already in use") {
		return err
	}
	for _, p := range svc.Ports {
		if p.Published != 0 && strings.Contains(msg, ":"+strconv.Itoa(p.Published)) {
			return &target.PortInUseError{Service: svc.Name, Port: p.Published, Err: err}
		}
	}
	return err
}

// aliases are the names a container answers to on network net: only its
// own until it takes over the service, then the service's name and the
// stack's aliases for that network too.
func aliases(svc render.Service, net, cname string, full bool) []string {
	if !full {
		return []string{cname}
	}
	out := []string{svc.Name, cname}
	if svc.Runtime != nil {
		out = append(out, svc.Runtime.Aliases[net]...)
	}
	return out
}

// containerSpec is the engine's form of one slot of a desired service.
func (t *Target) containerSpec(project string, d *render.Desired, svc render.Service, slot, ref string, fullAlias bool) (*container.Config, *container.HostConfig, *network.NetworkingConfig, error) {
	env := map[string]string{}
	for k, v := range svc.Environment {
		env[k] = v
	}
	if _, ok := env["PORT"]; !ok && len(svc.Ports) > 0 {
		env["PORT"] = strconv.Itoa(svc.Ports[0].Target)
	}
	env["LADDER_SNAPSHOT"] = d.Snapshot
	env["LADDER_ENVIRONMENT"] = d.Env
	env["LADDER_DATA"] = d.Data
	env["LADDER_SITE"] = d.Site
	env["LADDER_SERVICE"] = svc.Name
	env["LADDER_SLOT"] = slot
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	sort.Strings(envList)

	labels := map[string]string{
		labelProject: project, labelService: svc.Name, labelNumber: replicaOf(slot),
		labelOneoff: "False", labelConfigHash: svc.Config, labelVersion: composeVersion,
		drift.LabelSnapshot: d.Snapshot, drift.LabelEnvironment: d.Env, drift.LabelSite: d.Site,
		drift.LabelService: svc.Name, drift.LabelSlot: slot, drift.LabelDigest: svc.Digest, drift.LabelConfig: svc.Config,
	}
	if t.opts.WorkingDir != "" {
		labels[labelWorkingDir] = t.opts.WorkingDir
	}
	if t.opts.ConfigFile != "" {
		labels[labelConfigFile] = t.opts.ConfigFile
	}

	exposed := nat.PortSet{}
	bindings := nat.PortMap{}
	for _, p := range svc.Ports {
		port := nat.Port(fmt.Sprintf("%d/%s", p.Target, p.Protocol))
		exposed[port] = struct{}{}
		bindings[port] = append(bindings[port], nat.PortBinding{HostIP: p.HostIP, HostPort: hostPort(p)})
	}
	cfg := &container.Config{
		Image: ref, Env: envList, Labels: labels, ExposedPorts: exposed,
		Entrypoint: svc.Entrypoint, Cmd: svc.Command, WorkingDir: svc.WorkingDir,
	}
	// docker stop and the engine's own restarts honour the grace too.
	grace := int(svc.StopGrace.Seconds())
	cfg.StopTimeout = &grace
	if svc.Command == nil {
		// An empty Cmd would fall back to the image's; render already
		// resolved it, so ask for exactly what it says.
		cfg.Cmd = []string{}
	}
	if h := svc.Health; h != nil && len(h.Command) > 0 {
		test := append([]string{"CMD"}, h.Command...)
		if h.Shell && len(h.Command) == 3 {
			// Docker runs it with the image's shell, as compose does.
			test = []string{"CMD-SHELL", h.Command[2]}
		}
		cfg.Healthcheck = &container.HealthConfig{
			Test: test, Interval: h.Interval, Timeout: h.Timeout,
			Retries: h.Retries, StartPeriod: h.StartPeriod,
		}
	}
	if svc.HealthDisabled && cfg.Healthcheck == nil {
		// As compose does: NONE overrides the image's HEALTHCHECK.
		cfg.Healthcheck = &container.HealthConfig{Test: []string{"NONE"}}
	}
	host := &container.HostConfig{
		PortBindings:  bindings,
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(svc.Restart), MaximumRetryCount: svc.MaxRestarts},
	}
	for _, m := range svc.Volumes {
		switch m.Type {
		case "volume":
			src := m.Source
			if src != "" {
				src = project + "_" + src
			}
			mt := mount.Mount{Type: mount.TypeVolume, Source: src, Target: m.Target, ReadOnly: m.ReadOnly}
			if m.NoCopy {
				mt.VolumeOptions = &mount.VolumeOptions{NoCopy: true}
			}
			host.Mounts = append(host.Mounts, mt)
		case "bind":
			src := m.Source
			if !filepath.IsAbs(src) && t.opts.WorkingDir != "" {
				src = filepath.Join(t.opts.WorkingDir, src)
			}
			// As docker compose does (create_host_path), rather than
			// failing on a directory that does not exist yet.
			if _, err := os.Stat(src); os.IsNotExist(err) {
				_ = os.MkdirAll(src, 0o755)
			}
			mt := mount.Mount{Type: mount.TypeBind, Source: src, Target: m.Target, ReadOnly: m.ReadOnly}
			if m.Propagation != "" {
				mt.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(m.Propagation)}
			}
			host.Mounts = append(host.Mounts, mt)
		case "tmpfs":
			mt := mount.Mount{Type: mount.TypeTmpfs, Target: m.Target}
			if m.TmpfsSize != 0 || m.TmpfsMode != 0 {
				mt.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: m.TmpfsSize, Mode: os.FileMode(m.TmpfsMode)}
			}
			host.Mounts = append(host.Mounts, mt)
		}
	}
	if err := applyRuntime(cfg, host, svc); err != nil {
		return nil, nil, nil, err
	}
	netCfg := &network.NetworkingConfig{}
	if nets := serviceNetworks(svc); len(nets) > 0 {
		first := nets[0]
		netCfg.EndpointsConfig = map[string]*network.EndpointSettings{
			networkName(project, first): {Aliases: aliases(svc, first, containerName(project, svc.Name, slot), fullAlias)},
		}
		host.NetworkMode = container.NetworkMode(networkName(project, first))
	}
	return cfg, host, netCfg, nil
}

// ensureNetworks creates the project's networks the desired state uses.
func (t *Target) ensureNetworks(ctx context.Context, project string, d *render.Desired) error {
	want := map[string]bool{}
	for _, svc := range d.Services {
		for _, n := range serviceNetworks(svc) {
			want[n] = true
		}
	}
	have, err := t.opts.Engine.NetworkList(ctx, network.ListOptions{Filters: projectFilter(project)})
	if err != nil {
		return t.engineErr(err)
	}
	for _, n := range have {
		delete(want, n.Labels[labelNetwork])
	}
	for n := range want {
		labels := map[string]string{}
		opts := d.NetworkOptions[n]
		for k, v := range opts.Labels {
			labels[k] = v
		}
		for k, v := range map[string]string{labelProject: project, labelNetwork: n, labelVersion: composeVersion} {
			labels[k] = v
		}
		_, err := t.opts.Engine.NetworkCreate(ctx, networkName(project, n), network.CreateOptions{
			Driver: "bridge", Internal: opts.Internal, Attachable: true, Labels: labels,
		})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("creating network %s: %w", n, err)
		}
	}
	return nil
}

// ensureVolumes creates the project's named volumes.
func (t *Target) ensureVolumes(ctx context.Context, project string, d *render.Desired) error {
	for _, v := range d.Volumes {
		opts := d.VolumeOptions[v]
		labels := map[string]string{}
		for k, val := range opts.Labels {
			labels[k] = val
		}
		for k, val := range map[string]string{labelProject: project, labelVolume: v, labelVersion: composeVersion} {
			labels[k] = val
		}
		_, err := t.opts.Engine.VolumeCreate(ctx, volume.CreateOptions{
			Name: project + "_" + v, DriverOpts: opts.DriverOpts, Labels: labels,
		})
		if err != nil {
			return fmt.Errorf("creating volume %s: %w", v, err)
		}
	}
	return nil
}

func containerAddr(info container.InspectResponse) string {
	if info.NetworkSettings == nil {
		return ""
	}
	var names []string
	for n := range info.NetworkSettings.Networks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if ep := info.NetworkSettings.Networks[n]; ep != nil && ep.IPAddress != "" {
			return ep.IPAddress
		}
	}
	return ""
}

// await waits until a new container reaches cond, failing fast when it
// exits while it should be serving.
func (t *Target) await(ctx context.Context, site render.SiteRef, c started, cond plan.Await, timeout time.Duration, progress func(target.Progress)) error {
	begun := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	lastDetail := ""
	for {
		info, err := t.opts.Engine.ContainerInspect(ctx, c.id)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if isNotFound(err) {
				return t.failure(ctx, c, "its container was removed while it started")
			}
			return err
		}
		st := info.State
		exited := st == nil || st.Status == "exited" || st.Status == "dead" || st.Restarting || info.RestartCount > 0
		code := 0
		if st != nil {
			code = st.ExitCode
		}
		t.mu.Lock()
		pr := t.probers[c.id]
		t.mu.Unlock()
		done := false
		switch cond {
		case plan.AwaitCompleted:
			if exited && code == 0 && st != nil && st.Status == "exited" {
				done = true
			} else if exited && code != 0 {
				return t.failure(ctx, c, fmt.Sprintf("exited with code %d", code))
			}
		case plan.AwaitHealthy:
			if exited {
				return t.failure(ctx, c, fmt.Sprintf("exited with code %d before becoming healthy", code))
			}
			switch {
			case pr != nil:
				done = pr.health() == plan.HealthHealthy
				lastDetail = pr.lastDetail()
			case st.Health != nil:
				done = st.Health.Status == "healthy" ||
					st.Health.Status == "starting" && t.checkStarting(ctx, c.id, c.svc)
				if n := len(st.Health.Log); n > 0 {
					lastDetail = strings.TrimSpace(st.Health.Log[n-1].Output)
				}
			default:
				done = st.Running
			}
		default:
			if exited {
				return t.failure(ctx, c, fmt.Sprintf("exited with code %d right after starting", code))
			}
			done = st.Running
		}
		if done {
			step := map[plan.Await]string{plan.AwaitCompleted: "completed", plan.AwaitHealthy: "healthy"}[cond]
			if step == "" {
				step = "started"
			}
			progress(target.Progress{Service: c.svc.Name, Slot: c.slot, Step: step, Elapsed: time.Since(begun)})
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
			continue
		}
		break
	}
	if time.Since(begun) < timeout {
		return ctx.Err()
	}
	reason := fmt.Sprintf("not %s after %s", cond, timeout)
	if lastDetail != "" {
		reason += ": last check: " + lastDetail
	}
	err := t.failure(context.WithoutCancel(ctx), c, reason)
	progress(target.Progress{Service: c.svc.Name, Slot: c.slot, Step: "failed", Detail: reason, Elapsed: time.Since(begun)})
	return fmt.Errorf("%w (%w)", err, target.ErrTimeout)
}

func (t *Target) failure(ctx context.Context, c started, reason string) error {
	return &target.DeployError{Service: c.svc.Name, Slot: c.slot, Reason: reason, LastLines: t.lastLines(context.WithoutCancel(ctx), c.id, 40)}
}

// lastLinesWait bounds how long lastLines asks again while the engine has
// no output to show for a container.
const lastLinesWait = 3 * time.Second

// lastLines returns a container's last n lines of output. The engine can
// answer with nothing for a container that just exited: its output is
// copied from the process to the log after the exit is visible (on a busy
// machine the engine may even give up on the copy, and a crash loop's next
// attempt writes the lines again), and a log read can time out. A crash
// report without the crash's last words sends the user looking for them by
// hand, so an empty or failed read is tried again for a moment.
func (t *Target) lastLines(ctx context.Context, id string, n int) []string {
	deadline := time.Now().Add(lastLinesWait)
	for {
		lines, err := t.readLastLines(ctx, id, n)
		if len(lines) > 0 || (err != nil && isNotFound(err)) || !time.Now().Before(deadline) {
			return lines
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (t *Target) readLastLines(ctx context.Context, id string, n int) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rc, err := t.opts.Engine.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out bytes.Buffer
	_, err = stdcopy.StdCopy(&out, &out, rc)
	text := strings.TrimRight(out.String(), "\n")
	if text == "" {
		return nil, err
	}
	return strings.Split(text, "\n"), nil
}

// labelFilter selects the site's containers of one service.
func labelFilter(project, service string) filters.Args {
	return filters.NewArgs(filters.Arg("label", labelProject+"="+project), filters.Arg("label", labelService+"="+service))
}
