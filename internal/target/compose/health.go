package compose

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/signal"
	"github.com/ladderhq/ladder/internal/store"
)

// startProbeEvery is the probe pace until a container is first healthy.
const startProbeEvery = 100 * time.Millisecond

var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// prober checks one container's HTTP health endpoint on its network
// address, with Docker's semantics (signal.Tracker), for services that
// declare an HTTP probe. Docker's own healthcheck, when the service has
// one, keeps running beside it for `docker ps`.
type prober struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	state  string
	detail string
	// url is where the container answers; it moves when the container
	// is reconnected to its networks (see readdress). While moving is
	// set, probe results say nothing about the container and are not
	// counted.
	url    string
	moving bool
}

func (p *prober) health() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

func (p *prober) lastDetail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.detail
}

// target returns where to probe, and false while the container is
// being moved between addresses.
func (p *prober) target() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.url, !p.moving
}

func (p *prober) stop() {
	p.cancel()
	<-p.done
}

// probe starts probing a container unless it is already probed.
func (t *Target) probe(site render.SiteRef, snapshot, id, name, addr string, svc render.Service) *prober {
	h := svc.Health
	if h == nil || h.HTTP == nil || addr == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.probers[id]; ok {
		return p
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &prober{cancel: cancel, done: make(chan struct{}), state: plan.HealthStarting, url: healthURL(addr, h.HTTP)}
	t.probers[id] = p
	cfg := signal.HealthConfig{Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}.WithDefaults()
	go func() {
		defer close(p.done)
		tr := signal.NewTracker(cfg)
		tr.Start(name, time.Now())
		healthyOnce := false
		for {
			every := cfg.Interval
			if !healthyOnce {
				every = min(startProbeEvery, cfg.Interval)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
			url, ok := p.target()
			if !ok {
				continue
			}
			res := cfg.Run(ctx, nil, func(ctx context.Context) (bool, string) { return signal.ProbeHTTP(ctx, probeClient, url) })
			if ctx.Err() != nil {
				return
			}
			if now, ok := p.target(); !ok || now != url {
				continue // the container moved while it was probed
			}
			if healthyOnce {
				tr.Observe(name, res)
			} else {
				tr.ObserveFast(name, res)
			}
			st, _ := tr.State(name)
			next := string(st.Status)
			healthyOnce = healthyOnce || st.Status == signal.HealthHealthy
			p.mu.Lock()
			old := p.state
			p.state, p.detail = next, res.Detail
			p.mu.Unlock()
			if next != old {
				t.event(site, snapshot, svc.Name, store.EventHealthChanged, fmt.Sprintf("%s %s -> %s", name, old, next),
					map[string]string{"from": old, "to": next, "detail": res.Detail})
			}
		}
	}()
	return p
}

func healthURL(addr string, e *render.Endpoint) string {
	return fmt.Sprintf("http://%s%s", net.JoinHostPort(addr, strconv.Itoa(e.Port)), e.Path)
}

// moving marks a container's prober as moving to another address until
// readdress, so that probes of the address it is leaving are not held
// against it.
func (t *Target) moving(id string) {
	t.mu.Lock()
	p, ok := t.probers[id]
	t.mu.Unlock()
	if ok {
		p.mu.Lock()
		p.moving = true
		p.mu.Unlock()
	}
}

// readdress points a container's prober at its new network address (a
// reconnected container may get another one), keeping what the prober
// knows: the container did not restart, so its health does not start
// over, and no second "starting -> healthy" is recorded for it. A
// container not probed yet gets its prober now.
func (t *Target) readdress(site render.SiteRef, snapshot, id, name, addr string, svc render.Service) {
	t.mu.Lock()
	p, ok := t.probers[id]
	t.mu.Unlock()
	if !ok {
		t.probe(site, snapshot, id, name, addr, svc)
		return
	}
	p.mu.Lock()
	if addr != "" && svc.Health != nil && svc.Health.HTTP != nil {
		p.url = healthURL(addr, svc.Health.HTTP)
	}
	p.moving = false
	p.mu.Unlock()
}

// forgetProber stops probing a container.
func (t *Target) forgetProber(id string) {
	t.mu.Lock()
	p, ok := t.probers[id]
	delete(t.probers, id)
	t.mu.Unlock()
	if ok {
		p.stop()
	}
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 2000 {
		return time.Time{}, err
	}
	return t, nil
}
