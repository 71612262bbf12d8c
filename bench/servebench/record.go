package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

// recordTarget is a runtime that runs nothing: a deploy records the
// instances it asks for, running at once, and observing a site reads them
// back. It stands in for the process kind in the engine servebench
// measures, so that the engine tracks thousands of services without a
// process each, and what is measured is ladder's side alone.
type recordTarget struct {
	mu    sync.Mutex
	sites map[render.SiteRef][]plan.Instance
	seq   int
}

func newRecordTarget() *recordTarget {
	return &recordTarget{sites: map[render.SiteRef][]plan.Instance{}}
}

// recordKind is the process kind, replaced: every site of the benchmark's
// project runs on one recordTarget.
func recordKind(t *recordTarget) target.Kind {
	return target.Kind{Name: "process", New: func(context.Context, target.Site) (target.Target, error) { return t, nil }}
}

func (t *recordTarget) Kind() string { return "process" }

func (t *recordTarget) Observe(_ context.Context, site render.SiteRef) (*plan.Observed, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return &plan.Observed{SiteRef: site, Instances: append([]plan.Instance(nil), t.sites[site]...)}, nil
}

// Apply records one running instance per replica of every service, named
// by its slot: what a runtime that started them all at once would show.
func (t *recordTarget) Apply(_ context.Context, d *render.Desired, _ *plan.Plan, opts target.ApplyOptions) error {
	now := time.Now().UTC()
	var ins []plan.Instance
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, svc := range d.Services {
		for i := 1; i <= max(svc.Replicas, 1); i++ {
			t.seq++
			slot := plan.SlotName(i, svc.Config)
			ins = append(ins, plan.Instance{
				Service: svc.Name, Slot: slot, Snapshot: d.Snapshot, Digest: svc.Digest, Config: svc.Config,
				State: plan.StateRunning, ID: fmt.Sprintf("rec-%d", t.seq), Started: now,
			})
			if opts.Progress != nil {
				opts.Progress(target.Progress{Service: svc.Name, Slot: slot, Step: "ready"})
			}
		}
	}
	t.sites[d.SiteRef] = ins
	return nil
}

func (t *recordTarget) Down(_ context.Context, site render.SiteRef, _ target.DownOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.sites, site)
	return nil
}

func (t *recordTarget) Endpoints(render.SiteRef) []target.Endpoint { return nil }

func (t *recordTarget) Logs(context.Context, render.SiteRef, string, target.LogOptions, io.Writer) error {
	return nil
}

// services is how many instances the target holds, across all sites.
func (t *recordTarget) services() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, ins := range t.sites {
		n += len(ins)
	}
	return n
}
