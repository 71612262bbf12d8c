package e2e

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	ctypes "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
)

// loadCompose loads the stack in dir as docker compose would: compose-go
// with the OS environment, the project's .env and the active profiles,
// every service's environment resolved (env_file included).
func loadCompose(ctx context.Context, dir string, env []string, profiles []string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml")},
		cli.WithWorkingDirectory(dir), cli.WithOsEnv, cli.WithEnv(env), cli.WithEnvFiles(), cli.WithDotEnv, cli.WithProfiles(profiles))
	if err != nil {
		return nil, err
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, err
	}
	return p.WithServicesEnvironmentResolved(true)
}

// fieldCheck compares what Compose would apply for the services of proj
// with what the engine runs in the Compose project named project, and
// returns every difference as "service.field: ...".
type fieldCheck struct {
	ctx     context.Context
	eng     *client.Client
	proj    *types.Project
	project string // the Compose project ladder runs
	// native services run as local processes (the process target): they
	// have no container to inspect.
	native map[string]bool
	// oneNetwork: the engine half of the process target joins every
	// container to one network per site, whatever networks the stack names.
	oneNetwork bool
	diffs      []string
}

func (c *fieldCheck) errorf(svc, field, format string, a ...any) {
	c.diffs = append(c.diffs, fmt.Sprintf("%s.%s: %s", svc, field, fmt.Sprintf(format, a...)))
}

// checkFields runs the field-by-field comparison for every service.
func checkFields(ctx context.Context, proj *types.Project, project string, native map[string]bool, oneNetwork bool) ([]string, error) {
	eng, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	c := &fieldCheck{ctx: ctx, eng: eng, proj: proj, project: project, native: native, oneNetwork: oneNetwork}
	for _, name := range proj.ServiceNames() {
		if native[name] {
			continue
		}
		if err := c.service(proj.Services[name]); err != nil {
			return nil, err
		}
	}
	for name := range proj.DisabledServices {
		ids, err := c.containers(name)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			c.errorf(name, "profiles", "the service's profiles are inactive, yet %d containers run", len(ids))
		}
	}
	if !oneNetwork {
		c.networks()
	}
	c.volumes()
	sort.Strings(c.diffs)
	return c.diffs, nil
}

func (c *fieldCheck) containers(service string) ([]ctypes.InspectResponse, error) {
	list, err := c.eng.ContainerList(c.ctx, ctypes.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", "com.docker.compose.project="+c.project),
		filters.Arg("label", "com.docker.compose.service="+service))})
	if err != nil {
		return nil, err
	}
	var out []ctypes.InspectResponse
	for _, l := range list {
		ci, err := c.eng.ContainerInspect(c.ctx, l.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, ci)
	}
	return out, nil
}

// oneShot says the service is a job others wait for to complete.
func (c *fieldCheck) oneShot(name string) bool {
	for _, s := range c.proj.Services {
		if d, ok := s.DependsOn[name]; ok && d.Condition == types.ServiceConditionCompletedSuccessfully {
			return true
		}
	}
	return false
}

func (c *fieldCheck) service(s types.ServiceConfig) error {
	cs, err := c.containers(s.Name)
	if err != nil {
		return err
	}
	want := 1
	if s.Deploy != nil && s.Deploy.Replicas != nil {
		want = *s.Deploy.Replicas
	} else if s.Scale != nil {
		want = *s.Scale
	}
	if len(cs) != want {
		c.errorf(s.Name, "deploy.replicas", "compose runs %d containers, the engine has %d", want, len(cs))
	}
	for _, ci := range cs {
		c.container(s, ci)
	}
	return nil
}

func (c *fieldCheck) container(s types.ServiceConfig, ci ctypes.InspectResponse) {
	cfg, host := ci.Config, ci.HostConfig
	if c.oneShot(s.Name) {
		if ci.State.Running || ci.State.ExitCode != 0 {
			c.errorf(s.Name, "state", "a job others wait for: want exited 0, have %s (exit %d)", ci.State.Status, ci.State.ExitCode)
		}
	} else if !ci.State.Running {
		c.errorf(s.Name, "state", "not running: %s (exit %d)", ci.State.Status, ci.State.ExitCode)
	}
	eq := func(field string, want, have any) {
		if fmt.Sprint(want) != fmt.Sprint(have) {
			c.errorf(s.Name, field, "compose applies %v, the container has %v", want, have)
		}
	}
	if s.Build == nil && s.Image != "" {
		id, err := c.imageID(s.Image)
		if err != nil {
			c.errorf(s.Name, "image", "%v", err)
		} else {
			eq("image", id, ci.Image)
		}
	}
	if s.Entrypoint != nil {
		eq("entrypoint", []string(s.Entrypoint), cfg.Entrypoint)
	}
	if s.Command != nil {
		eq("command", []string(s.Command), cfg.Cmd)
	}
	if s.User != "" {
		eq("user", s.User, cfg.User)
	}
	if s.WorkingDir != "" {
		eq("working_dir", s.WorkingDir, cfg.WorkingDir)
	}
	if s.Hostname != "" {
		eq("hostname", s.Hostname, cfg.Hostname)
	}
	if s.DomainName != "" {
		eq("domainname", s.DomainName, cfg.Domainname)
	}
	for k, v := range s.Labels {
		if cfg.Labels[k] != v {
			c.errorf(s.Name, "labels."+k, "compose applies %q, the container has %q", v, cfg.Labels[k])
		}
	}
	env := map[string]string{}
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range s.Environment {
		if v == nil {
			if _, ok := env[k]; ok {
				c.errorf(s.Name, "environment."+k, "unset in compose, the container has it")
			}
			continue
		}
		if have, ok := env[k]; !ok || have != *v {
			c.errorf(s.Name, "environment."+k, "compose applies %q, the container has %q (set: %v)", *v, have, ok)
		}
	}
	capSet := func(l []string) string {
		var out []string
		for _, c := range l {
			out = append(out, strings.TrimPrefix(strings.ToUpper(c), "CAP_"))
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	eq("cap_add", capSet(s.CapAdd), capSet(host.CapAdd))
	eq("cap_drop", capSet(s.CapDrop), capSet(host.CapDrop))
	eq("read_only", s.ReadOnly, host.ReadonlyRootfs)
	eq("privileged", s.Privileged, host.Privileged)
	eq("tty", s.Tty, cfg.Tty)
	eq("stdin_open", s.StdinOpen, cfg.OpenStdin)
	if s.Init != nil {
		eq("init", *s.Init, host.Init != nil && *host.Init)
	}
	for _, t := range s.Tmpfs {
		path, opts, _ := strings.Cut(t, ":")
		got, ok := host.Tmpfs[path]
		if !ok {
			for _, m := range host.Mounts {
				if m.Type == "tmpfs" && m.Target == path {
					ok, got = true, "(mount)"
				}
			}
		}
		if !ok {
			c.errorf(s.Name, "tmpfs", "compose mounts a tmpfs at %s, the container has none", path)
		} else if opts != "" && got != "(mount)" && got != opts {
			c.errorf(s.Name, "tmpfs", "%s: compose applies options %q, the container has %q", path, opts, got)
		}
	}
	for name, u := range s.Ulimits {
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		found := false
		for _, h := range host.Ulimits {
			if h.Name == name {
				found = true
				if h.Soft != soft || h.Hard != hard {
					c.errorf(s.Name, "ulimits."+name, "compose applies %d:%d, the container has %d:%d", soft, hard, h.Soft, h.Hard)
				}
			}
		}
		if !found {
			c.errorf(s.Name, "ulimits."+name, "compose applies it, the container has none")
		}
	}
	for k, v := range s.Sysctls {
		if host.Sysctls[k] != v {
			c.errorf(s.Name, "sysctls."+k, "compose applies %q, the container has %q", v, host.Sysctls[k])
		}
	}
	for _, h := range s.ExtraHosts.AsList(":") {
		if !slices.Contains(host.ExtraHosts, h) {
			c.errorf(s.Name, "extra_hosts", "compose adds %q, the container has %v", h, host.ExtraHosts)
		}
	}
	if len(s.DNS) > 0 {
		eq("dns", []string(s.DNS), host.DNS)
	}
	if len(s.GroupAdd) > 0 {
		eq("group_add", s.GroupAdd, host.GroupAdd)
	}
	for _, o := range s.SecurityOpt {
		if !slices.Contains(host.SecurityOpt, o) {
			c.errorf(s.Name, "security_opt", "compose applies %q, the container has %v", o, host.SecurityOpt)
		}
	}
	c.limits(s, host, eq)
	if s.StopSignal != "" {
		eq("stop_signal", s.StopSignal, cfg.StopSignal)
	}
	if s.StopGracePeriod != nil {
		grace := int(time.Duration(*s.StopGracePeriod).Seconds())
		if cfg.StopTimeout == nil || *cfg.StopTimeout != grace {
			c.errorf(s.Name, "stop_grace_period", "compose applies %ds, the container has %v", grace, cfg.StopTimeout)
		}
	}
	if s.ShmSize != 0 {
		eq("shm_size", int64(s.ShmSize), host.ShmSize)
	}
	if s.OomScoreAdj != 0 {
		eq("oom_score_adj", s.OomScoreAdj, int64(host.OomScoreAdj))
	}
	if s.Restart != "" {
		eq("restart", s.Restart, string(host.RestartPolicy.Name))
	} else if s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		want := map[string]string{"none": "no", "on-failure": "on-failure", "any": "always"}[s.Deploy.RestartPolicy.Condition]
		eq("deploy.restart_policy.condition", want, string(host.RestartPolicy.Name))
		if m := s.Deploy.RestartPolicy.MaxAttempts; m != nil {
			eq("deploy.restart_policy.max_attempts", int(*m), host.RestartPolicy.MaximumRetryCount)
		}
	}
	if s.Logging != nil {
		if s.Logging.Driver != "" {
			eq("logging.driver", s.Logging.Driver, host.LogConfig.Type)
		}
		for k, v := range s.Logging.Options {
			if host.LogConfig.Config[k] != v {
				c.errorf(s.Name, "logging.options."+k, "compose applies %q, the container has %q", v, host.LogConfig.Config[k])
			}
		}
	}
	c.healthcheck(s, cfg, eq)
	c.ports(s, ci)
	c.mounts(s, ci)
	c.files(s, ci)
	if !c.oneNetwork {
		c.serviceNetworks(s, ci)
	}
}

func (c *fieldCheck) limits(s types.ServiceConfig, host *ctypes.HostConfig, eq func(string, any, any)) {
	mem, cpus, pids, resMem := int64(s.MemLimit), float64(s.CPUS), s.PidsLimit, int64(s.MemReservation)
	if d := s.Deploy; d != nil {
		if l := d.Resources.Limits; l != nil {
			if l.MemoryBytes != 0 {
				mem = int64(l.MemoryBytes)
			}
			if l.NanoCPUs != 0 {
				cpus = float64(l.NanoCPUs)
			}
			if l.Pids != 0 {
				pids = l.Pids
			}
		}
		if r := d.Resources.Reservations; r != nil && r.MemoryBytes != 0 {
			resMem = int64(r.MemoryBytes)
		}
	}
	if mem != 0 {
		eq("mem_limit", mem, host.Memory)
	}
	if cpus != 0 {
		eq("cpus", int64(cpus*1e9), host.NanoCPUs)
	}
	if pids != 0 {
		have := int64(0)
		if host.PidsLimit != nil {
			have = *host.PidsLimit
		}
		eq("pids_limit", pids, have)
	}
	if resMem != 0 {
		eq("mem_reservation", resMem, host.MemoryReservation)
	}
}

// healthcheck: Compose passes the test and its timings; a disabled check
// is Test ["NONE"], which overrides the image's HEALTHCHECK.
func (c *fieldCheck) healthcheck(s types.ServiceConfig, cfg *ctypes.Config, eq func(string, any, any)) {
	hc := s.HealthCheck
	if hc == nil {
		return
	}
	if hc.Disable || (len(hc.Test) > 0 && hc.Test[0] == "NONE") {
		if cfg.Healthcheck == nil || len(cfg.Healthcheck.Test) == 0 || cfg.Healthcheck.Test[0] != "NONE" {
			c.errorf(s.Name, "healthcheck.disable", "compose applies test [NONE], the container has %+v", cfg.Healthcheck)
		}
		return
	}
	if cfg.Healthcheck == nil {
		c.errorf(s.Name, "healthcheck", "compose applies %v, the container has none", hc.Test)
		return
	}
	if len(hc.Test) > 0 {
		eq("healthcheck.test", []string(hc.Test), cfg.Healthcheck.Test)
	}
	dur := func(field string, d *types.Duration, have time.Duration) {
		if d != nil {
			eq(field, time.Duration(*d), have)
		}
	}
	dur("healthcheck.interval", hc.Interval, cfg.Healthcheck.Interval)
	dur("healthcheck.timeout", hc.Timeout, cfg.Healthcheck.Timeout)
	dur("healthcheck.start_period", hc.StartPeriod, cfg.Healthcheck.StartPeriod)
	if hc.Retries != nil {
		eq("healthcheck.retries", int(*hc.Retries), cfg.Healthcheck.Retries)
	}
}

func (c *fieldCheck) ports(s types.ServiceConfig, ci ctypes.InspectResponse) {
	for _, p := range s.Ports {
		key := fmt.Sprintf("%d/%s", p.Target, p.Protocol)
		var found bool
		for port, bs := range ci.HostConfig.PortBindings {
			if string(port) != key {
				continue
			}
			for _, b := range bs {
				if (p.HostIP == "" || b.HostIP == p.HostIP) && (p.Published == "" || b.HostPort == p.Published) {
					found = true
				}
			}
		}
		if !found {
			c.errorf(s.Name, "ports", "compose publishes %s on %q:%q, the container binds %v", key, p.HostIP, p.Published, ci.HostConfig.PortBindings)
		} else if ci.State.Running && len(ci.NetworkSettings.Ports[nat.Port(key)]) == 0 {
			c.errorf(s.Name, "ports", "%s is bound in the config but not published", key)
		}
	}
	for _, e := range s.Expose {
		key := e
		if !strings.Contains(key, "/") {
			key += "/tcp"
		}
		if _, ok := ci.Config.ExposedPorts[nat.Port(key)]; !ok {
			c.errorf(s.Name, "expose", "compose exposes %s, the container does not", key)
		}
	}
}

// mounts: volumes are the project's named volumes, binds the absolute
// path, tmpfs at their target, each with its access mode.
func (c *fieldCheck) mounts(s types.ServiceConfig, ci ctypes.InspectResponse) {
	for _, v := range s.Volumes {
		var found bool
		for _, m := range ci.Mounts {
			if m.Destination != v.Target {
				continue
			}
			found = true
			if string(m.Type) != v.Type {
				c.errorf(s.Name, "volumes", "%s: compose mounts a %s, the container a %s", v.Target, v.Type, m.Type)
			}
			switch v.Type {
			case types.VolumeTypeVolume:
				want := v.Source
				if vol, ok := c.proj.Volumes[v.Source]; ok && vol.Name != "" {
					want = vol.Name
				}
				if want != "" && m.Name != c.project+"_"+v.Source && m.Name != want {
					c.errorf(s.Name, "volumes", "%s: compose mounts volume %s, the container %s", v.Target, want, m.Name)
				}
			case types.VolumeTypeBind:
				if m.Source != v.Source {
					c.errorf(s.Name, "volumes", "%s: compose binds %s, the container %s", v.Target, v.Source, m.Source)
				}
			}
			if v.Type != types.VolumeTypeTmpfs && m.RW == v.ReadOnly {
				c.errorf(s.Name, "volumes", "%s: compose read_only %v, the container rw %v", v.Target, v.ReadOnly, m.RW)
			}
		}
		if !found {
			c.errorf(s.Name, "volumes", "compose mounts %s, the container has nothing there", v.Target)
		}
	}
}

// files: each secret and config is a file at its target with the source's
// content, owner and mode (Compose's defaults: /run/secrets/NAME or /NAME,
// root, 0444).
func (c *fieldCheck) files(s types.ServiceConfig, ci ctypes.InspectResponse) {
	type ref struct {
		kind, source, target string
		uid, gid             string
		mode                 *types.FileMode
		def                  types.FileObjectConfig
	}
	var refs []ref
	for _, r := range s.Secrets {
		target := r.Target
		if target == "" {
			target = "/run/secrets/" + r.Source
		} else if !strings.HasPrefix(target, "/") {
			target = "/run/secrets/" + target
		}
		refs = append(refs, ref{"secrets", r.Source, target, r.UID, r.GID, r.Mode, types.FileObjectConfig(c.proj.Secrets[r.Source])})
	}
	for _, r := range s.Configs {
		target := r.Target
		if target == "" {
			target = "/" + r.Source
		}
		refs = append(refs, ref{"configs", r.Source, target, r.UID, r.GID, r.Mode, types.FileObjectConfig(c.proj.Configs[r.Source])})
	}
	for _, r := range refs {
		field := r.kind + "." + r.source
		var want string
		switch {
		case r.def.File != "":
			b, err := os.ReadFile(r.def.File)
			if err != nil {
				c.errorf(s.Name, field, "%v", err)
				continue
			}
			want = string(b)
		case r.def.Environment != "":
			want = c.proj.Environment[r.def.Environment]
		default:
			want = r.def.Content
		}
		hdr, content, err := copyOut(ci.ID, r.target)
		if err != nil {
			c.errorf(s.Name, field, "compose places it at %s: %v", r.target, err)
			continue
		}
		if content != want {
			c.errorf(s.Name, field, "%s: the content differs from the source (%d bytes, want %d)", r.target, len(content), len(want))
		}
		mode := int64(0o444)
		if r.mode != nil {
			mode = int64(*r.mode)
		}
		if hdr.Mode&0o7777 != mode {
			c.errorf(s.Name, field, "%s: compose applies mode %o, the file has %o", r.target, mode, hdr.Mode&0o7777)
		}
		if want := orZero(r.uid); strconv.Itoa(hdr.Uid) != want {
			c.errorf(s.Name, field, "%s: compose applies uid %s, the file has %d", r.target, want, hdr.Uid)
		}
		if want := orZero(r.gid); strconv.Itoa(hdr.Gid) != want {
			c.errorf(s.Name, field, "%s: compose applies gid %s, the file has %d", r.target, want, hdr.Gid)
		}
	}
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// copyOut reads one file out of a container as `docker cp` does (no
// shell or cat needed in the image).
func copyOut(id, path string) (*tar.Header, string, error) {
	cmd := exec.Command("docker", "cp", id+":"+path, "-")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	defer cmd.Wait()
	tr := tar.NewReader(out)
	hdr, err := tr.Next()
	if err != nil {
		_, _ = io.Copy(io.Discard, out)
		cmd.Wait()
		return nil, "", fmt.Errorf("docker cp: %v %s", err, strings.TrimSpace(stderr.String()))
	}
	b, err := io.ReadAll(tr)
	_, _ = io.Copy(io.Discard, out)
	return hdr, string(b), err
}

// serviceNetworks: the container is on the project's network for each of
// the service's networks (default when none), with the service name, the
// aliases given and its container_name.
func (c *fieldCheck) serviceNetworks(s types.ServiceConfig, ci ctypes.InspectResponse) {
	if s.NetworkMode != "" {
		return
	}
	nets := s.Networks
	if len(nets) == 0 {
		nets = map[string]*types.ServiceNetworkConfig{"default": nil}
	}
	for name, cfg := range nets {
		full := c.project + "_" + name
		if n, ok := c.proj.Networks[name]; ok && n.Name != "" && n.Name != name {
			full = n.Name
		}
		ep, ok := ci.NetworkSettings.Networks[full]
		if !ok {
			ep, ok = ci.NetworkSettings.Networks[c.project+"_"+name]
		}
		if !ok {
			var have []string
			for n := range ci.NetworkSettings.Networks {
				have = append(have, n)
			}
			c.errorf(s.Name, "networks."+name, "compose joins %s, the container is on %v", full, have)
			continue
		}
		want := []string{s.Name}
		if cfg != nil {
			want = append(want, cfg.Aliases...)
		}
		// ladder names containers after their release slots; the name
		// Compose gives the container is an alias on each network.
		if s.ContainerName != "" {
			want = append(want, s.ContainerName)
		}
		// A link alias (other:alias) is a name of the linked service.
		for _, other := range c.proj.Services {
			for _, l := range other.Links {
				if svc, alias, ok := strings.Cut(l, ":"); ok && svc == s.Name && alias != svc {
					want = append(want, alias)
				}
			}
		}
		for _, a := range want {
			if !slices.Contains(ep.Aliases, a) {
				c.errorf(s.Name, "networks."+name+".aliases", "compose gives alias %q, the container has %v", a, ep.Aliases)
			}
		}
	}
	if len(ci.NetworkSettings.Networks) != len(nets) {
		c.errorf(s.Name, "networks", "compose joins %d networks, the container %d", len(nets), len(ci.NetworkSettings.Networks))
	}
}

// networks: each network the running services use exists with its
// internal flag and labels.
func (c *fieldCheck) networks() {
	used := map[string]bool{}
	for _, s := range c.proj.Services {
		if s.NetworkMode != "" {
			continue
		}
		if len(s.Networks) == 0 {
			used["default"] = true
		}
		for n := range s.Networks {
			used[n] = true
		}
	}
	for name := range used {
		def := c.proj.Networks[name]
		n, err := c.eng.NetworkInspect(c.ctx, c.project+"_"+name, network.InspectOptions{})
		if err != nil {
			c.errorf("networks", name, "%v", err)
			continue
		}
		if n.Internal != def.Internal {
			c.errorf("networks", name+".internal", "compose applies %v, the network has %v", def.Internal, n.Internal)
		}
		for k, v := range def.Labels {
			if n.Labels[k] != v {
				c.errorf("networks", name+".labels."+k, "compose applies %q, the network has %q", v, n.Labels[k])
			}
		}
	}
}

// volumes: each named volume a service mounts exists with its labels.
func (c *fieldCheck) volumes() {
	for name, def := range c.proj.Volumes {
		if def.External {
			continue
		}
		v, err := c.eng.VolumeInspect(c.ctx, c.project+"_"+name)
		if err != nil {
			c.errorf("volumes", name, "%v", err)
			continue
		}
		for k, want := range def.Labels {
			if v.Labels[k] != want {
				c.errorf("volumes", name+".labels."+k, "compose applies %q, the volume has %q", want, v.Labels[k])
			}
		}
	}
}

func (c *fieldCheck) imageID(ref string) (string, error) {
	img, err := c.eng.ImageInspect(c.ctx, ref)
	if err != nil {
		return "", err
	}
	return img.ID, nil
}
