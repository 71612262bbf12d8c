package compose

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/network"

	"github.com/ladderhq/ladder/internal/render"
)

// Gateways creates the site's networks that d uses, when missing, and
// returns the address of each one's gateway on this host, by the stack's
// network name: where the site's containers reach the host.
func (t *Target) Gateways(ctx context.Context, d *render.Desired) (map[string]string, error) {
	project := t.Project(d.SiteRef)
	if err := t.ensureNetworks(ctx, project, d); err != nil {
		return nil, err
	}
	nets, err := t.opts.Engine.NetworkList(ctx, network.ListOptions{Filters: projectFilter(project)})
	if err != nil {
		return nil, t.engineErr(err)
	}
	out := map[string]string{}
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if c.Gateway != "" {
				out[n.Labels[labelNetwork]] = c.Gateway
				break
			}
		}
	}
	for _, svc := range d.Services {
		for _, n := range serviceNetworks(svc) {
			if out[n] == "" {
				return nil, fmt.Errorf("network %s of %s has no gateway address", networkName(project, n), project)
			}
		}
	}
	return out, nil
}

// ServiceNetworks are the stack networks svc's containers join, the
// first being the one they are created on; none for a service with its
// own network_mode.
func ServiceNetworks(svc render.Service) []string { return serviceNetworks(svc) }
