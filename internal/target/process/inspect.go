package process

import (
	"context"
	"sort"
	"strconv"

	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/proc"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

var _ target.Inspector = (*Target)(nil)

// Inspect implements target.Inspector: the live side of drift detection.
//
// A local process cannot have its command, environment or ports changed
// once started, so what can drift is whether each instance still runs and
// which artifact and configuration it was started with, and whether the
// binary it runs is still the file it was started from (see binaryChange). The process
// supervising the site answers from its own instances; any other (the
// `ladder drift` command) from the instance records in the store, each
// counted as running only while its supervisor lives and the process under
// its PID still carries its slot (so a recycled PID is not mistaken for
// it).
func (t *Target) Inspect(ctx context.Context, ref render.SiteRef) (*drift.Live, error) {
	live := &drift.Live{SiteRef: ref, Recorded: true}
	if ins := t.instancesOf(ref); len(ins) > 0 {
		for _, in := range ins {
			o := in.observe()
			li := liveInstance(ref, o.Service, o.Slot, o.Snapshot, o.Digest, o.Config, o.ID,
				o.State == plan.StateRunning || o.State == plan.StateStarting, o.Health)
			if li.Running {
				pid, _ := strconv.Atoi(o.ID)
				li.Binary = binaryChange(pid)
			}
			live.Instances = append(live.Instances, li)
		}
	} else if t.opts.Store != nil {
		recs, err := t.opts.Store.ListInstances(ctx, ref.Env, ref.Site)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			running := false
			if self, here := proc.Here(r.Owner); r.PID > 0 && here && proc.Alive(self) {
				env := proc.Environ(r.PID)
				running = env["LADDER_SLOT"] == r.Slot && env["LADDER_SERVICE"] == r.Service
			}
			li := liveInstance(ref, r.Service, r.Slot, r.Snapshot, r.Digest, r.Config, strconv.Itoa(r.PID), running, "")
			if running {
				li.Binary = binaryChange(r.PID)
			}
			live.Instances = append(live.Instances, li)
		}
	}
	sort.Slice(live.Instances, func(i, j int) bool {
		a, b := live.Instances[i], live.Instances[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Slot < b.Slot
	})
	return live, nil
}

func liveInstance(ref render.SiteRef, service, slot, snapshot, digest, config, pid string, running bool, health string) drift.Instance {
	return drift.Instance{
		Service: service, Slot: slot, ID: pid, Name: "pid " + pid, Running: running, Health: health,
		Labels: map[string]string{
			drift.LabelService: service, drift.LabelSlot: slot, drift.LabelSnapshot: snapshot,
			drift.LabelDigest: digest, drift.LabelConfig: config,
			drift.LabelEnvironment: ref.Env, drift.LabelSite: ref.Site,
		},
	}
}
