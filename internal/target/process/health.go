package process

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/signal"
	"github.com/ladderhq/ladder/internal/store"
)

var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// probe checks the instance's health until ctx ends, with Docker's
// semantics (signal.Tracker). Until the instance is first healthy it
// probes every startProbeEvery (HTTP probes quickProbeEvery at first)
// rather than every interval, so a release does not wait a whole interval
// for a service that is already up.
func (in *instance) probe(ctx context.Context) {
	h := in.svc.Health
	if h == nil {
		return
	}
	cfg := signal.HealthConfig{Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}.WithDefaults()
	tr := signal.NewTracker(cfg)
	tr.Start(in.slot, time.Now())
	probeFn := in.probeFunc()
	healthyOnce := false
	for n := 0; ; n++ {
		every := cfg.Interval
		switch {
		case healthyOnce:
		case h.HTTP != nil && n < quickProbes:
			every = min(quickProbeEvery, cfg.Interval)
		default:
			every = min(startProbeEvery, cfg.Interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		res := cfg.Run(ctx, nil, probeFn)
		if ctx.Err() != nil {
			return
		}
		if healthyOnce {
			tr.Observe(in.slot, res)
		} else {
			tr.ObserveFast(in.slot, res)
		}
		state, _ := tr.State(in.slot)
		next := string(state.Status)
		healthyOnce = healthyOnce || state.Status == signal.HealthHealthy
		var old string
		in.update(func() { old = in.health; in.health = next; in.detail = res.Detail })
		if next != old {
			in.t.event(in, store.EventHealthChanged,
				fmt.Sprintf("%s %s %s -> %s", in.svc.Name, in.slot, old, next),
				map[string]string{"from": old, "to": next, "detail": res.Detail})
		}
	}
}

func (in *instance) probeFunc() signal.ProbeFunc {
	h := in.svc.Health
	if h.HTTP != nil {
		url := fmt.Sprintf("http://127.0.0.1:%d%s", in.ports[h.HTTP.Port], h.HTTP.Path)
		return func(ctx context.Context) (bool, string) { return signal.ProbeHTTP(ctx, probeClient, url) }
	}
	argv := in.mapArgv(h.Command)
	return func(ctx context.Context) (bool, string) { return signal.ProbeCommand(ctx, argv, in.env, in.dir) }
}

// healthAfterExit is an exited instance's health: unhealthy if it was
// checked at all.
func healthAfterExit(h string) string {
	if h == plan.HealthNone {
		return h
	}
	return plan.HealthUnhealthy
}
