package compose

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/go-connections/nat"

	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/render"
)

// Inspect reads, field by field, what the site's containers run: the
// live side of drift detection.
func (t *Target) Inspect(ctx context.Context, site render.SiteRef) (*drift.Live, error) {
	cs, err := t.containers(ctx, site)
	if err != nil {
		return nil, err
	}
	live := &drift.Live{SiteRef: site}
	for _, c := range cs {
		if c.Labels[labelOneoff] == "True" {
			continue
		}
		info, err := t.inspectFresh(ctx, c.ID)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return nil, t.engineErr(err)
		}
		in := drift.Instance{
			Service: c.Labels[drift.LabelService],
			Slot:    c.Labels[drift.LabelSlot],
			ID:      shortID(c.ID),
			Name:    name(c),
			Image:   info.Image,
			Labels:  c.Labels,
			Env:     map[string]string{},
		}
		if in.Service == "" {
			in.Service = c.Labels[labelService]
		}
		if info.Config != nil {
			in.Entrypoint = info.Config.Entrypoint
			in.Command = info.Config.Cmd
			for _, kv := range info.Config.Env {
				k, v, _ := strings.Cut(kv, "=")
				in.Env[k] = v
			}
		}
		if hc := info.HostConfig; hc != nil {
			rt := &drift.Runtime{
				ReadOnly: hc.ReadonlyRootfs, Privileged: hc.Privileged,
				CapAdd: hc.CapAdd, CapDrop: hc.CapDrop,
				Memory: hc.Memory, NanoCPUs: hc.NanoCPUs, CPUShares: hc.CPUShares,
			}
			if hc.PidsLimit != nil {
				rt.Pids = *hc.PidsLimit
			}
			if info.Config != nil {
				rt.User = info.Config.User
			}
			in.Runtime = rt
		}
		if st := info.State; st != nil {
			in.Running = st.Running && !st.Restarting
			in.Completed = st.Status == "exited" && st.ExitCode == 0
			if st.Health != nil {
				in.Health = st.Health.Status
			}
		}
		t.mu.Lock()
		if pr := t.probers[c.ID]; pr != nil && pr.health() == "unhealthy" {
			in.Health = "unhealthy"
		}
		t.mu.Unlock()
		// What is actually published: the bindings the engine made
		// (an "any port" request shows the port it picked), or, for a
		// stopped container, the bindings it asked for.
		bindings := nat.PortMap{}
		if info.NetworkSettings != nil && len(info.NetworkSettings.Ports) > 0 {
			bindings = info.NetworkSettings.Ports
		} else if info.HostConfig != nil {
			bindings = info.HostConfig.PortBindings
		}
		seen := map[render.Port]bool{}
		for port, bs := range bindings {
			// The engine may publish an "any port" request on one port
			// for IPv4 and another for IPv6; the IPv4 one is the port.
			if v4 := ipv4Bindings(bs); len(v4) > 0 {
				bs = v4
			}
			for _, b := range bs {
				p := render.Port{Target: port.Int(), Protocol: port.Proto()}
				if b.HostPort != "" {
					p.Published = atoi(b.HostPort)
				}
				if !seen[p] {
					seen[p] = true
					in.Ports = append(in.Ports, p)
				}
			}
		}
		sort.Slice(in.Ports, func(i, j int) bool {
			if in.Ports[i].Target != in.Ports[j].Target {
				return in.Ports[i].Target < in.Ports[j].Target
			}
			return in.Ports[i].Published < in.Ports[j].Published
		})
		live.Instances = append(live.Instances, in)
	}
	return live, nil
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// Watch calls changed whenever the engine reports something happening to
// a container or network of the site, until ctx ends. It follows the
// engine's event stream (no polling) and reconnects with backoff when the
// stream breaks, as it does when the engine restarts; it calls changed
// after each reconnection too, since events may have been missed.
func (t *Target) Watch(ctx context.Context, site render.SiteRef, changed func(what string)) {
	project := t.Project(site)
	backoff := 250 * time.Millisecond
	reconnected := false
	for ctx.Err() == nil {
		f := filters.NewArgs(filters.Arg("label", labelProject+"="+project))
		f.Add("type", string(events.ContainerEventType))
		streamCtx, cancel := context.WithCancel(ctx)
		msgs, errs := t.opts.Engine.Events(streamCtx, events.ListOptions{Filters: f})
		if reconnected {
			t.forgetInspections()
			changed("reconnected to the engine")
		}
		func() {
			defer cancel()
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-msgs:
					backoff = 250 * time.Millisecond
					t.forgetInspections()
					changed(describe(m))
				case err := <-errs:
					if err != nil && ctx.Err() == nil {
						t.opts.Logger.Warn("engine event stream broke; reconnecting", "err", err)
					}
					return
				}
			}
		}()
		reconnected = true
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// describe names what an engine event says happened.
func describe(m events.Message) string {
	what := string(m.Action)
	if n := m.Actor.Attributes["name"]; n != "" {
		what = n + " " + what
	}
	return what
}

func ipv4Bindings(bs []nat.PortBinding) []nat.PortBinding {
	var out []nat.PortBinding
	for _, b := range bs {
		if !strings.Contains(b.HostIP, ":") {
			out = append(out, b)
		}
	}
	return out
}
