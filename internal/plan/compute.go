package plan

import (
	"fmt"
	"sort"

	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// Compute decides how to bring the site from obs to d. It is pure.
func Compute(d *render.Desired, obs *Observed) *Plan {
	p := &Plan{SiteRef: d.SiteRef, Snapshot: d.Snapshot, From: obs.Snapshots()}
	inPlan := map[string]bool{}
	desired := map[string]bool{}
	for _, svc := range d.Services {
		desired[svc.Name] = true
		sp := computeService(d, &svc, obs.Of(svc.Name))
		for _, dep := range svc.DependsOn {
			if inPlan[dep.Service] {
				sp.After = append(sp.After, dep.Service)
			}
		}
		if len(sp.Start) > 0 {
			inPlan[svc.Name] = true
		}
		p.Services = append(p.Services, sp)
	}

	// Services no longer in the stack are removed last.
	var gone []string
	for _, in := range obs.Instances {
		if !desired[in.Service] {
			gone = append(gone, in.Service)
		}
	}
	sort.Strings(gone)
	for i, name := range gone {
		if i > 0 && gone[i-1] == name {
			continue
		}
		p.Services = append(p.Services, ServicePlan{
			Service: name, Action: ActionRemove, Stop: obs.Of(name),
			Reason: "no longer in the stack",
		})
	}
	return p
}

func computeService(d *render.Desired, svc *render.Service, have []Instance) ServicePlan {
	sp := ServicePlan{Service: svc.Name}
	job := d.Job(svc.Name)
	want := map[string]bool{}
	var slots []string
	for i := 1; i <= svc.Replicas; i++ {
		slot := SlotName(i, svc.Config)
		want[slot] = true
		slots = append(slots, slot)
	}
	usable := map[string]bool{}
	for _, in := range have {
		if want[in.Slot] && in.Config == svc.Config && usableInstance(in, job) {
			usable[in.Slot] = true
		}
	}
	for _, slot := range slots {
		if usable[slot] {
			sp.Keep = append(sp.Keep, slot)
		} else {
			sp.Start = append(sp.Start, slot)
		}
	}
	var old *Instance
	for i, in := range have {
		if !usable[in.Slot] {
			sp.Stop = append(sp.Stop, in)
			if in.Config != svc.Config && old == nil {
				old = &have[i]
			}
		}
	}

	switch {
	case len(sp.Start) == 0 && len(sp.Stop) == 0:
		sp.Action = ActionKeep
		sp.Reason = "unchanged"
	case len(have) == 0:
		sp.Action = ActionCreate
	case old != nil:
		sp.Action = ActionReplace
		if old.Digest != svc.Digest {
			sp.Reason = fmt.Sprintf("artifact %s -> %s", snapshot.Short(old.Digest), snapshot.Short(svc.Digest))
		} else {
			sp.Reason = "configuration changed"
		}
	case len(sp.Start) > 0 && len(sp.Keep) == 0 && len(sp.Stop) > 0:
		sp.Action = ActionReplace
		sp.Reason = "instances not running"
		if d := driftOf(sp.Stop); d != "" {
			sp.Reason = "repairing drift: " + d
		}
	default:
		sp.Action = ActionScale
		sp.Reason = fmt.Sprintf("%d -> %d replicas", countRunning(have, svc.Config), svc.Replicas)
		if len(sp.Stop) > 0 && len(sp.Start) > 0 {
			sp.Reason = "replacing instances that are not running"
		}
	}
	if len(sp.Start) > 0 {
		switch {
		case job:
			sp.Await = AwaitCompleted
		case svc.Health != nil:
			sp.Await = AwaitHealthy
		default:
			sp.Await = AwaitStarted
		}
	}
	return sp
}

// usableInstance reports whether an observed instance with the right
// config can be kept: a server that is up (its health is the supervisor's
// business), or a job that already completed successfully.
func usableInstance(in Instance, job bool) bool {
	if in.Drift != "" {
		return false
	}
	if job {
		return in.State == StateExited && in.ExitCode == 0
	}
	return in.State == StateRunning || in.State == StateStarting || in.State == StateRestarting
}

// driftOf names the first drift among instances, if any.
func driftOf(ins []Instance) string {
	for _, in := range ins {
		if in.Drift != "" {
			return in.Drift
		}
	}
	return ""
}

func countRunning(have []Instance, config string) int {
	n := 0
	for _, in := range have {
		if in.Config == config && in.State != StateExited {
			n++
		}
	}
	return n
}
