package process

import (
	"slices"
	"strconv"
	"strings"

	"github.com/ladderhq/ladder/internal/render"
)

// withInternalPorts returns d with, for each service, a port (on a free
// loopback front) for every port it serves only to the other services of
// the site: its expose: entries and each "service:port" another service's
// environment names (by the service's name or one of its aliases). On a
// Compose network a service with no ports: is reached by name on any
// port; here every address another service may dial needs a front to be
// rewritten to, and the service is told its private port in PORT. d
// itself is not changed.
func withInternalPorts(d *render.Desired) *render.Desired {
	want := map[string][]int{}
	add := func(svc string, port int) {
		if port > 0 && port < 65536 && !slices.Contains(want[svc], port) {
			want[svc] = append(want[svc], port)
		}
	}
	for _, svc := range d.Services {
		for _, port := range ExposedPorts(svc) {
			add(svc.Name, port)
		}
	}
	for _, svc := range d.Services {
		for _, v := range svc.Environment {
			for _, m := range addrRef.FindAllStringSubmatch(v, -1) {
				if to, ok := d.ServiceByHost(m[2]); ok && to.Name != svc.Name {
					port, _ := strconv.Atoi(m[3])
					add(to.Name, port)
				}
			}
		}
	}
	out := *d
	out.Services = slices.Clone(d.Services)
	changed := false
	for i := range out.Services {
		svc := &out.Services[i]
		var extra []render.Port
		for _, port := range want[svc.Name] {
			if !slices.ContainsFunc(svc.Ports, func(p render.Port) bool { return p.Target == port }) {
				extra = append(extra, render.Port{Target: port, Protocol: "tcp", HostIP: "127.0.0.1"})
			}
		}
		if len(extra) > 0 {
			slices.SortFunc(extra, func(a, b render.Port) int { return a.Target - b.Target })
			svc.Ports = append(slices.Clone(svc.Ports), extra...)
			changed = true
		}
	}
	if !changed {
		return d
	}
	return &out
}

// ExposedPorts are the ports of the service's expose: entries.
func ExposedPorts(svc render.Service) []int {
	if svc.Runtime == nil {
		return nil
	}
	var out []int
	for _, e := range svc.Runtime.Expose {
		n, _, _ := strings.Cut(e, "/")
		if port, err := strconv.Atoi(n); err == nil {
			out = append(out, port)
		}
	}
	return out
}
