package target

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
)

// Side is where a service of a mixed site runs.
type Side string

const (
	// SideNative runs the service as a local process.
	SideNative Side = "native"
	// SideEngine runs the service as a container in the Docker engine.
	SideEngine Side = "engine"
)

// Half is the part of one release that one side carries out: the
// desired services that run there and the plan for them.
type Half struct {
	Side    Side
	Desired *render.Desired
	Plan    *plan.Plan
}

// Empty reports whether the half has nothing to run and nothing to stop.
func (h Half) Empty() bool {
	if len(h.Desired.Services) > 0 {
		return false
	}
	for _, sp := range h.Plan.Services {
		if len(sp.Stop) > 0 {
			return false
		}
	}
	return true
}

// CrossOrderError says services depend on each other across the two
// sides in both directions, so neither side can be started first.
type CrossOrderError struct {
	// Pairs are "dependent -> dependency (side)" descriptions.
	Pairs []string
}

func (e *CrossOrderError) Error() string {
	return fmt.Sprintf("services depend on each other across native processes and containers in both directions (%s): keep dependencies on one side of each other",
		strings.Join(e.Pairs, "; "))
}

// Split divides a release between the sides its services run on (sides,
// by service) and returns the halves in the order they must be applied:
// a side whose services others depend on goes first, so that every
// depends_on condition across the boundary is met before its dependent
// starts (within a half, the half's target orders them). observed says
// where each running instance was seen ("service/slot"), so an instance
// left on the other side by a service that moved is stopped by the side
// that runs it.
func Split(d *render.Desired, p *plan.Plan, sides map[string]Side, observed map[string]Side) ([]Half, error) {
	first, err := firstSide(d, sides)
	if err != nil {
		return nil, err
	}
	order := []Side{first, other(first)}
	var halves []Half
	for _, side := range order {
		hd := *d
		hd.Services = nil
		for _, svc := range d.Services {
			if sides[svc.Name] == side {
				hd.Services = append(hd.Services, svc)
			}
		}
		hp := &plan.Plan{SiteRef: p.SiteRef, Snapshot: p.Snapshot, From: p.From}
		for _, sp := range p.Services {
			mine := splitStops(sp.Stop, side, sides[sp.Service], observed)
			if sides[sp.Service] == side && sp.Action != plan.ActionRemove {
				sp.Stop = mine
				var after []string
				for _, dep := range sp.After {
					if sides[dep] == side {
						after = append(after, dep)
					}
				}
				sp.After = after
				hp.Services = append(hp.Services, sp)
				continue
			}
			// A service gone from the stack, or one now run by the other
			// side: this side stops what it runs of it.
			if len(mine) > 0 {
				hp.Services = append(hp.Services, plan.ServicePlan{Service: sp.Service, Action: plan.ActionRemove, Stop: mine, Reason: sp.Reason})
			}
		}
		halves = append(halves, Half{Side: side, Desired: &hd, Plan: hp})
	}
	return halves, nil
}

// splitStops returns the instances to stop that side runs: those seen
// there, and those seen nowhere when the service is on side (want) or
// gone from the stack (want empty).
func splitStops(stop []plan.Instance, side, want Side, observed map[string]Side) []plan.Instance {
	var mine []plan.Instance
	for _, in := range stop {
		at, seen := observed[in.Service+"/"+in.Slot]
		if seen && at == side || !seen && (want == side || want == "") {
			mine = append(mine, in)
		}
	}
	return mine
}

// firstSide is the side to apply first: the one the other depends on.
func firstSide(d *render.Desired, sides map[string]Side) (Side, error) {
	need := map[Side][]string{} // side that must go first -> why
	for _, svc := range d.Services {
		for _, dep := range svc.DependsOn {
			ds, ok := sides[dep.Service]
			if !ok || ds == sides[svc.Name] {
				continue
			}
			need[ds] = append(need[ds], fmt.Sprintf("%s (%s) -> %s (%s)", svc.Name, sides[svc.Name], dep.Service, ds))
		}
	}
	switch {
	case len(need[SideNative]) > 0 && len(need[SideEngine]) > 0:
		pairs := append(need[SideNative], need[SideEngine]...)
		sort.Strings(pairs)
		return "", &CrossOrderError{Pairs: pairs}
	case len(need[SideNative]) > 0:
		return SideNative, nil
	}
	return SideEngine, nil
}

func other(s Side) Side {
	if s == SideNative {
		return SideEngine
	}
	return SideNative
}
