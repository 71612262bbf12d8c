package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// State is an instance's process (or container) state.
type State string

// Instance states.
const (
	StateStarting State = "starting"
	StateRunning  State = "running"
	// StateExited: the instance ended; ExitCode says how.
	StateExited State = "exited"
	// StateRestarting: the instance crashed and waits out its backoff.
	StateRestarting State = "restarting"
)

// Health values (mirroring signal.Health without importing it).
const (
	HealthNone      = ""
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Observed is what a site runs, read once from the target.
type Observed struct {
	render.SiteRef
	Instances []Instance `json:"instances"`
}

// Instance is one running (or ended) replica of a service.
type Instance struct {
	Service string `json:"service"`
	// Slot identifies the instance among its service's instances on the
	// site; see SlotName.
	Slot     string `json:"slot"`
	Snapshot string `json:"snapshot"`
	Digest   string `json:"digest"`
	Config   string `json:"config"`
	State    State  `json:"state"`
	Health   string `json:"health,omitempty"`
	ExitCode int    `json:"exitCode"`
	Restarts int    `json:"restarts"`
	// Addr is the address ladder reaches the instance itself on (for
	// probes and scrapes), and Ports maps each of the service's target
	// (container) ports to the port it answers on at Addr.
	Addr  string      `json:"addr,omitempty"`
	Ports map[int]int `json:"ports,omitempty"`
	// ID is the target's handle: a PID, a container ID.
	ID string `json:"id"`
	// Drift, when set, says how the instance differs from what it was
	// started as (changed out of band); it is replaced, not kept.
	Drift   string    `json:"drift,omitempty"`
	Started time.Time `json:"started"`
}

// SlotName names replica i (from 1) of a service rendered with config hash
// config. The name changes when the config does, so a replacement can run
// beside the instance it replaces until it is healthy.
func SlotName(i int, config string) string {
	return fmt.Sprintf("%d-%s", i, snapshot.Short(config)[:8])
}

// Of returns the observed instances of service, ordered by slot.
func (o *Observed) Of(service string) []Instance {
	var out []Instance
	for _, in := range o.Instances {
		if in.Service == service {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slot < out[j].Slot })
	return out
}

// Snapshots returns the distinct snapshots of the observed instances, sorted.
func (o *Observed) Snapshots() []string {
	seen := map[string]bool{}
	var out []string
	for _, in := range o.Instances {
		if !seen[in.Snapshot] {
			seen[in.Snapshot] = true
			out = append(out, in.Snapshot)
		}
	}
	sort.Strings(out)
	return out
}

// Action summarises what a plan does to one service.
type Action string

// Actions.
const (
	ActionKeep    Action = "keep"
	ActionCreate  Action = "create"
	ActionReplace Action = "replace"
	ActionScale   Action = "scale"
	ActionRemove  Action = "remove"
)

// Await is what a started service must reach before its dependents start
// and before the old instances are stopped.
type Await string

// Await conditions.
const (
	AwaitNone      Await = ""
	AwaitStarted   Await = "started"
	AwaitHealthy   Await = "healthy"
	AwaitCompleted Await = "completed"
)

// Plan is what to do to bring a site from Observed to Desired.
type Plan struct {
	render.SiteRef
	Snapshot string `json:"snapshot"`
	// From lists the snapshots the site ran before, usually one.
	From     []string      `json:"from,omitempty"`
	Services []ServicePlan `json:"services"`
}

// ServicePlan is the part of a plan about one service. A target carries
// it out in three phases across all services: start the new slots and
// await them (in dependency order), route traffic to the desired
// instances, then stop the old ones. Nothing old stops before every new
// instance of the release is ready, so a failed release leaves the
// previous one serving.
type ServicePlan struct {
	Service string `json:"service"`
	Action  Action `json:"action"`
	Reason  string `json:"reason,omitempty"`
	// Start are slots to start.
	Start []string `json:"start,omitempty"`
	// Await is what the new slots must reach.
	Await Await `json:"await,omitempty"`
	// Keep are running slots that stay as they are (they join the new
	// snapshot unchanged).
	Keep []string `json:"keep,omitempty"`
	// Stop are instances to stop once the release is ready.
	Stop []Instance `json:"stop,omitempty"`
	// After are the services in this plan that must be ready before this
	// one starts.
	After []string `json:"after,omitempty"`
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	for _, s := range p.Services {
		if s.Action != ActionKeep {
			return false
		}
	}
	return true
}

// Service returns the plan for service name.
func (p *Plan) Service(name string) (*ServicePlan, bool) {
	for i := range p.Services {
		if p.Services[i].Service == name {
			return &p.Services[i], true
		}
	}
	return nil, false
}

// Changed lists the services the plan starts or stops instances of.
func (p *Plan) Changed() []string {
	var out []string
	for _, s := range p.Services {
		if s.Action != ActionKeep {
			out = append(out, s.Service)
		}
	}
	return out
}

var actionMark = map[Action]string{
	ActionKeep: "=", ActionCreate: "+", ActionReplace: "~", ActionScale: "^", ActionRemove: "-",
}

// String is the plan's text form: one line per service.
func (p *Plan) String() string {
	var b strings.Builder
	from := "nothing"
	if len(p.From) > 0 {
		short := make([]string, len(p.From))
		for i, f := range p.From {
			short[i] = snapshot.Short(f)
		}
		from = strings.Join(short, ", ")
	}
	fmt.Fprintf(&b, "plan %s: snapshot %s (running %s)\n", p.SiteRef, snapshot.Short(p.Snapshot), from)
	width := 0
	for _, s := range p.Services {
		width = max(width, len(s.Service))
	}
	for _, s := range p.Services {
		var steps []string
		if len(s.Keep) > 0 {
			steps = append(steps, "keep "+strings.Join(s.Keep, " "))
		}
		if len(s.Start) > 0 {
			steps = append(steps, "start "+strings.Join(s.Start, " "))
		}
		if s.Await != AwaitNone {
			steps = append(steps, "await "+string(s.Await))
		}
		if len(s.Stop) > 0 {
			slots := make([]string, len(s.Stop))
			for i, in := range s.Stop {
				slots[i] = in.Slot
			}
			steps = append(steps, "stop "+strings.Join(slots, " "))
		}
		line := fmt.Sprintf("  %s %-*s  %-7s  %s", actionMark[s.Action], width, s.Service, s.Action, strings.Join(steps, ", "))
		if s.Reason != "" {
			line += " (" + s.Reason + ")"
		}
		b.WriteString(strings.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	return b.String()
}
