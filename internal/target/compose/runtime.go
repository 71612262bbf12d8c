package compose

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/strslice"
	"github.com/docker/go-connections/nat"

	"github.com/ladderhq/ladder/internal/render"
)

// applyRuntime sets what svc.Runtime and svc.Resources say on the
// container's configuration, the way docker compose maps the same fields.
func applyRuntime(cfg *container.Config, host *container.HostConfig, svc render.Service) error {
	if rt := svc.Runtime; rt != nil {
		cfg.User, cfg.Hostname, cfg.Domainname = rt.User, rt.Hostname, rt.Domainname
		cfg.StopSignal = rt.StopSignal
		cfg.Tty, cfg.OpenStdin = rt.Tty, rt.StdinOpen
		for k, v := range rt.Labels {
			if _, ours := cfg.Labels[k]; !ours {
				cfg.Labels[k] = v
			}
		}
		for _, e := range rt.Expose {
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = nat.PortSet{}
			}
			cfg.ExposedPorts[nat.Port(e)] = struct{}{}
		}
		host.ReadonlyRootfs = rt.ReadOnly
		if rt.Init {
			init := true
			host.Init = &init
		}
		host.Privileged = rt.Privileged
		host.CapAdd = strslice.StrSlice(rt.CapAdd)
		host.CapDrop = strslice.StrSlice(rt.CapDrop)
		host.SecurityOpt = rt.SecurityOpt
		host.Sysctls = rt.Sysctls
		for _, u := range rt.Ulimits {
			host.Ulimits = append(host.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
		}
		host.ExtraHosts = rt.ExtraHosts
		if len(rt.Tmpfs) > 0 {
			host.Tmpfs = map[string]string{}
			for _, t := range rt.Tmpfs {
				path, opts, _ := strings.Cut(t, ":")
				host.Tmpfs[path] = opts
			}
		}
		host.ShmSize = rt.ShmSize
		if rt.NetworkMode != "" {
			host.NetworkMode = container.NetworkMode(rt.NetworkMode)
		}
		host.IpcMode = container.IpcMode(rt.IPC)
		host.PidMode = container.PidMode(rt.PID)
		host.DNS, host.DNSSearch, host.DNSOptions = rt.DNS, rt.DNSSearch, rt.DNSOptions
		host.GroupAdd = rt.GroupAdd
		if l := rt.Logging; l != nil {
			host.LogConfig = container.LogConfig{Type: l.Driver, Config: l.Options}
		}
	}
	lim, err := svc.EffectiveLimits()
	if err != nil {
		return err
	}
	host.Memory = lim.Memory
	host.MemoryReservation = lim.MemoryReservation
	host.MemorySwap = lim.MemorySwap
	if lim.MemorySwappiness != 0 {
		sw := lim.MemorySwappiness
		host.MemorySwappiness = &sw
	}
	host.NanoCPUs = int64(lim.CPUs * 1e9)
	host.CPUShares = lim.CPUShares
	host.CPUQuota, host.CPUPeriod = lim.CPUQuota, lim.CPUPeriod
	host.CpusetCpus = lim.CPUSet
	if lim.Pids != 0 {
		pids := lim.Pids
		host.PidsLimit = &pids
	}
	if lim.OOMKillDisable {
		off := true
		host.OomKillDisable = &off
	}
	host.OomScoreAdj = int(lim.OOMScoreAdj)
	return nil
}

// hostPort is the engine's form of a published port: one port, a range
// the engine picks a free one from, or "" for any.
func hostPort(p render.Port) string {
	switch {
	case p.Published == 0:
		return ""
	case p.PublishedEnd != 0:
		return fmt.Sprintf("%d-%d", p.Published, p.PublishedEnd)
	}
	return strconv.Itoa(p.Published)
}

// fixedPort reports whether p pins one host port, which only one
// container can hold at a time.
func fixedPort(p render.Port) bool { return p.Published != 0 && p.PublishedEnd == 0 }

// fileTar is a tar stream of svc's files at their targets, with their
// owners and modes, for CopyToContainer: nothing touches the host's disk.
func fileTar(svc render.Service) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range svc.Files {
		if f.Content == nil {
			return nil, fmt.Errorf("service %s: %s %s: its content was not loaded", svc.Name, f.Kind, f.Name)
		}
		uid, gid, err := owner(f)
		if err != nil {
			return nil, fmt.Errorf("service %s: %s %s: %w", svc.Name, f.Kind, f.Name, err)
		}
		hdr := &tar.Header{
			Name: strings.TrimPrefix(f.Target, "/"), Mode: int64(f.Mode), Size: int64(len(f.Content)),
			Uid: uid, Gid: gid, Typeflag: tar.TypeReg, Format: tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Content); err != nil {
			return nil, err
		}
	}
	return &buf, tw.Close()
}

func owner(f render.File) (int, int, error) {
	uid, gid := 0, 0
	var err error
	if f.UID != "" {
		if uid, err = strconv.Atoi(f.UID); err != nil {
			return 0, 0, fmt.Errorf("uid %q: want a number", f.UID)
		}
	}
	if f.GID != "" {
		if gid, err = strconv.Atoi(f.GID); err != nil {
			return 0, 0, fmt.Errorf("gid %q: want a number", f.GID)
		}
	}
	return uid, gid, nil
}

// copyFiles puts svc's secrets and configs into a created container,
// before it starts.
func (t *Target) copyFiles(ctx context.Context, id string, svc render.Service) error {
	if len(svc.Files) == 0 || readOnly(svc) {
		return nil
	}
	buf, err := fileTar(svc)
	if err != nil {
		return err
	}
	// Without CopyUIDGID the engine keeps each entry's owner as written
	// (CopyUIDGID would give every file the container user's instead).
	if err := t.opts.Engine.CopyToContainer(ctx, id, "/", buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("service %s: copying its secrets and configs in: %w", svc.Name, err)
	}
	return nil
}

func readOnly(svc render.Service) bool { return svc.Runtime != nil && svc.Runtime.ReadOnly }

// fileMounts writes svc's files for a container with a read-only root
// filesystem, which the engine cannot copy into, and returns the bind
// mounts (read-only) that place them. The files live in a directory only
// their owner can enter; it goes with the container (see remove).
func (t *Target) fileMounts(cname string, svc render.Service) ([]mount.Mount, error) {
	if len(svc.Files) == 0 || !readOnly(svc) {
		return nil, nil
	}
	dir := filepath.Join(t.filesDir(), cname)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var mounts []mount.Mount
	for i, f := range svc.Files {
		if f.Content == nil {
			return nil, fmt.Errorf("service %s: %s %s: its content was not loaded", svc.Name, f.Kind, f.Name)
		}
		uid, gid, err := owner(f)
		if err != nil {
			return nil, fmt.Errorf("service %s: %s %s: %w", svc.Name, f.Kind, f.Name, err)
		}
		p := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(p, f.Content, os.FileMode(f.Mode)&0o777); err != nil {
			return nil, err
		}
		if err := os.Chmod(p, os.FileMode(f.Mode)&0o777); err != nil {
			return nil, err
		}
		if os.Geteuid() == 0 {
			_ = os.Chown(p, uid, gid)
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: p, Target: f.Target, ReadOnly: true})
	}
	return mounts, nil
}

func (t *Target) filesDir() string {
	if t.opts.ComposeDir != "" {
		return filepath.Join(t.opts.ComposeDir, "files")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("ladder-files-%d", os.Getuid()))
}

// removeFiles deletes the files written for a container (by name).
func (t *Target) removeFiles(cname string) {
	if cname == "" || strings.ContainsAny(cname, "/\\") {
		return
	}
	_ = os.RemoveAll(filepath.Join(t.filesDir(), cname))
}

// probeAddr is where ladder reaches a container's HTTP probe: its
// address on the project's network, or the host's loopback for a
// container on the host's network.
func probeAddr(info container.InspectResponse, svc render.Service) string {
	if svc.Runtime != nil && svc.Runtime.NetworkMode == "host" {
		return "127.0.0.1"
	}
	return containerAddr(info)
}
