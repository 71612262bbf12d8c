package compose

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/container"
)

// inspectTTL bounds how long a container's inspection is reused by
// Observe: the agent observes its sites every second (to scrape them) and
// for every status, and should not inspect every container each time.
// Drift detection (Inspect) always reads afresh and refreshes the cache.
// Anything that changes the site, or an engine event about it, forgets
// every cached inspection at once.
const inspectTTL = 2 * time.Second

type inspected struct {
	info container.InspectResponse
	at   time.Time
}

// inspect returns a container's inspection, from the cache when fresh.
func (t *Target) inspect(ctx context.Context, id string) (container.InspectResponse, error) {
	t.mu.Lock()
	if c, ok := t.inspections[id]; ok && time.Since(c.at) < inspectTTL {
		t.mu.Unlock()
		return c.info, nil
	}
	t.mu.Unlock()
	return t.inspectFresh(ctx, id)
}

// inspectFresh asks the engine, and caches the answer.
func (t *Target) inspectFresh(ctx context.Context, id string) (container.InspectResponse, error) {
	info, err := t.opts.Engine.ContainerInspect(ctx, id)
	if err != nil {
		return info, err
	}
	t.mu.Lock()
	t.inspections[id] = inspected{info: info, at: time.Now()}
	t.mu.Unlock()
	return info, nil
}

// forgetInspections drops every cached inspection: the site changed.
func (t *Target) forgetInspections() {
	t.mu.Lock()
	t.inspections = map[string]inspected{}
	t.mu.Unlock()
}
