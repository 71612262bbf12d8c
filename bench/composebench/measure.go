package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ladderhq/ladder/bench/internal/engine"
	"github.com/ladderhq/ladder/bench/internal/harness"
)

// dcHealthTimeout bounds the wait for docker-compose's containers.
const dcHealthTimeout = 120 * time.Second

// prepare builds the demo once in a fresh copy (images built and loaded
// into the engine), keeps the Compose file ladder renders, and stops the
// stack again. The copy is reused for the ladder runs and drift.
func (b *bench) prepare(ctx context.Context) (*project, string, error) {
	p, err := b.newProject("demo")
	if err != nil {
		return nil, "", err
	}
	b.Logf("prepare: ladder up -d in a fresh copy (builds and loads the 4 images; warms the Go build cache)")
	up, took, err := b.up(ctx, p, true, services)
	if err != nil {
		return nil, "", err
	}
	if !harness.SameSet(up.Build.Built, services...) {
		return nil, "", fmt.Errorf("first up built %v, want all four", up.Build.Built)
	}
	b.Logf("  first up %s (build %s)", harness.Ms(took), harness.Ms(up.Build.BuildTime))
	rendered := up.Status.Sites[0].Runtime["composeFile"]
	data, err := os.ReadFile(rendered)
	if err != nil {
		return nil, "", fmt.Errorf("the rendered Compose file: %w", err)
	}
	if !strings.Contains(string(data), "image: "+p.stack+"-users:ladder-") {
		return nil, "", fmt.Errorf("%s does not run the images of stack %s:\n%s", rendered, p.stack, data)
	}
	file := filepath.Join(b.Tmp, "compose", filepath.Base(rendered))
	if err := harness.CopyFile(rendered, file); err != nil {
		return nil, "", err
	}
	return p, file, b.down(ctx, p)
}

// upVsCompose alternates ladder and docker-compose, each from nothing
// running until every service is healthy, on the same images.
func (b *bench) upVsCompose(ctx context.Context, p *project, file string) error {
	dc := b.prefix + "dc"
	b.mu.Lock()
	b.dcs = append(b.dcs, [2]string{dc, file})
	b.mu.Unlock()
	for i := range b.cfg.n {
		up, took, err := b.up(ctx, p, true, services)
		if err != nil {
			return fmt.Errorf("round %d: %w", i+1, err)
		}
		switch {
		case len(up.Build.Built) != 0 || !harness.SameSet(up.Build.Cached, services...):
			return fmt.Errorf("round %d: built %v, cached %v; want nothing built", i+1, up.Build.Built, up.Build.Cached)
		case up.Deploy.Release == 0 || !harness.SameSet(up.Deploy.Changed, services...):
			return fmt.Errorf("round %d: release %d changed %v; want a release starting all four", i+1, up.Deploy.Release, up.Deploy.Changed)
		}
		if ids, err := engine.Containers(ctx, p.composeProject(), "status=running"); err != nil || len(ids) != len(services) {
			return fmt.Errorf("round %d: %d running containers after ladder up (%v), want %d", i+1, len(ids), err, len(services))
		}
		b.res.Add("ladder.up.total", took)
		b.res.Add("ladder.up.build", up.Build.BuildTime)
		b.res.Add("ladder.up.deploy", took-up.Build.BuildTime)
		if err := b.down(ctx, p); err != nil {
			return err
		}

		b.note("dc up", "docker-compose -p "+dc+" -f "+file+" up -d")
		b.note("dc inspect", "docker inspect $(docker ps -aq --filter label="+engine.LabelProject+"="+dc+")  # every 50 ms until healthy")
		start := time.Now()
		if _, err := engine.Compose(ctx, dc, file, "up", "-d"); err != nil {
			return fmt.Errorf("round %d: %w", i+1, err)
		}
		returned := time.Since(start)
		checked, err := engine.WaitHealthy(ctx, dc, len(services), dcHealthTimeout)
		healthy := time.Since(start)
		if err != nil {
			return fmt.Errorf("round %d: %w", i+1, err)
		}
		if checked != len(services) {
			return fmt.Errorf("round %d: %d containers with a healthcheck, want %d", i+1, checked, len(services))
		}
		b.res.Add("dc.up.returned", returned)
		b.res.Add("dc.up.healthy", healthy)
		b.Logf("round %d/%d: ladder %s (build %s); docker-compose returned %s, healthy %s",
			i+1, b.cfg.n, harness.Ms(took), harness.Ms(up.Build.BuildTime), harness.Ms(returned), harness.Ms(healthy))
		b.note("dc down", "docker-compose -p "+dc+" -f "+file+" down -v")
		if err := engine.ComposeDown(ctx, dc, file); err != nil {
			return err
		}
	}
	return nil
}

// event is the part of an agent event composebench reads.
type event struct {
	ID       int64     `json:"id"`
	Time     time.Time `json:"time"`
	Snapshot string    `json:"snapshot"`
	Message  string    `json:"message"`
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

func driftEvents(ctx context.Context, agent string, after int64) ([]event, error) {
	url := agent + "/api/v1/events?kind=drift.detected"
	if after > 0 {
		url += fmt.Sprintf("&after=%d", after)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	var evs []event
	return evs, json.NewDecoder(resp.Body).Decode(&evs)
}

// driftLatency stops the users container by hand and times until the
// agent records drift, then repairs it with ladder up.
func (b *bench) driftLatency(ctx context.Context, p *project) error {
	up, _, err := b.up(ctx, p, true, services)
	if err != nil {
		return err
	}
	agent, snap := up.Status.Agent.URL, up.Snapshot.ID
	b.note("drift poll", "curl '"+agent+"/api/v1/events?kind=drift.detected&after=ID'  # every 10 ms")
	for i := range b.cfg.drift {
		if r, err := b.ladder(ctx, p, "drift"); err != nil || r.Code != 0 {
			return fmt.Errorf("run %d: ladder drift before stopping: exit %d %v\n%s", i+1, r.Code, err, harness.Tail(r.Stdout))
		}
		old, err := driftEvents(ctx, agent, 0)
		if err != nil {
			return err
		}
		var after int64
		for _, e := range old {
			after = max(after, e.ID)
		}
		ids, err := engine.Containers(ctx, p.composeProject(), "label=com.docker.compose.service=users", "status=running")
		if err != nil || len(ids) != 1 {
			return fmt.Errorf("run %d: users containers %v (%v), want one running", i+1, ids, err)
		}
		b.note("docker stop", "docker stop -t 1 USERS_CONTAINER_ID")
		called := time.Now()
		if _, err := engine.Docker(ctx, "stop", "-t", "1", ids[0]); err != nil {
			return err
		}
		returned := time.Now()
		var got *event
		for deadline := returned.Add(15 * time.Second); got == nil; {
			evs, err := driftEvents(ctx, agent, after)
			if err != nil {
				return err
			}
			for _, e := range evs {
				if e.ID > after && e.Snapshot == snap {
					got = &e
					break
				}
			}
			if got == nil && time.Now().After(deadline) {
				return fmt.Errorf("run %d: no drift.detected event within 15s of docker stop", i+1)
			}
			if got == nil {
				time.Sleep(10 * time.Millisecond)
			}
		}
		seen := time.Now()
		if !strings.Contains(got.Message, "users") {
			return fmt.Errorf("run %d: the drift event does not name users: %s", i+1, got.Message)
		}
		b.res.Add("drift.fromReturn", seen.Sub(returned))
		b.res.Add("drift.fromCall", seen.Sub(called))
		b.res.Add("drift.stop", returned.Sub(called))
		b.res.Add("drift.eventTime", got.Time.Sub(returned))

		rep, took, err := b.up(ctx, p, false, services)
		if err != nil {
			return fmt.Errorf("run %d: repair: %w", i+1, err)
		}
		if len(rep.Build.Built) != 0 || rep.Deploy.Release == 0 || !harness.SameSet(rep.Deploy.Changed, "users") {
			return fmt.Errorf("run %d: repair built %v, release %d, changed %v; want only users replaced", i+1, rep.Build.Built, rep.Deploy.Release, rep.Deploy.Changed)
		}
		if r, err := b.ladder(ctx, p, "drift"); err != nil || r.Code != 0 {
			return fmt.Errorf("run %d: ladder drift after the repair: exit %d %v\n%s", i+1, r.Code, err, harness.Tail(r.Stdout))
		}
		b.res.Add("drift.repair", took)
		b.Logf("drift %d/%d: seen %s after docker stop returned (%s after it was called); repair %s",
			i+1, b.cfg.drift, harness.Ms(seen.Sub(returned)), harness.Ms(seen.Sub(called)), harness.Ms(took))
	}
	return b.down(ctx, p)
}

// noopMany runs a stack of many services and times ladder up with
// nothing changed.
func (b *bench) noopMany(ctx context.Context) error {
	p, err := b.newProject("many")
	if err != nil {
		return err
	}
	names, err := writeManyServices(p, b.cfg.services)
	if err != nil {
		return err
	}
	up, took, err := b.up(ctx, p, true, names)
	if err != nil {
		return err
	}
	b.res.Add("many.first", took)
	b.Logf("%d services: first up -d %s (%d built, build %s)", len(names), harness.Ms(took), len(up.Build.Built), harness.Ms(up.Build.BuildTime))
	ids, _ := instances(up, names)
	before, err := engine.ProjectState(ctx, p.composeProject())
	if err != nil {
		return err
	}
	if len(before) != len(names) {
		return fmt.Errorf("%d containers run, want %d", len(before), len(names))
	}
	for i := range b.cfg.noop {
		up, took, err := b.up(ctx, p, false, names)
		if err != nil {
			return fmt.Errorf("no-op %d: %w", i+1, err)
		}
		now, _ := instances(up, names)
		switch {
		case len(up.Build.Built) != 0 || !harness.SameSet(up.Build.Cached, names...):
			return fmt.Errorf("no-op %d: built %v, %d cached; want nothing built", i+1, up.Build.Built, len(up.Build.Cached))
		case up.Deploy.Release != 0 || len(up.Deploy.Changed) != 0:
			return fmt.Errorf("no-op %d: release %d, changed %v; want release 0", i+1, up.Deploy.Release, up.Deploy.Changed)
		case !maps.EqualFunc(now, ids, slices.Equal):
			return fmt.Errorf("no-op %d: instances changed from %v to %v", i+1, ids, now)
		}
		after, err := engine.ProjectState(ctx, p.composeProject())
		if err != nil {
			return err
		}
		if !maps.Equal(after, before) {
			return fmt.Errorf("no-op %d: containers changed:\nbefore %v\nafter  %v", i+1, before, after)
		}
		b.res.Add("many.noop", took)
		b.res.Add("many.noop.build", up.Build.BuildTime)
		b.res.Add("many.noop.deploy", up.Deploy.Duration)
	}
	b.Logf("%d services: %d no-op ups, median %s", len(names), b.cfg.noop, harness.Ms(b.res.Median("many.noop")))
	if err := b.down(ctx, p); err != nil {
		return err
	}
	return engine.RemoveImages(ctx, p.stack)
}

// snapshotShow is the part of `ladder snapshot show ID -o json` read here.
type snapshotShow struct {
	Artifacts map[string]struct {
		Size int64 `json:"size"`
	} `json:"artifacts"`
}

// assembly builds the demo's images on a fresh state dir, reads their
// sizes, and checks a second up builds nothing.
func (b *bench) assembly(ctx context.Context) error {
	for i := range b.cfg.assemble {
		p, err := b.newProject(fmt.Sprintf("img%d", i+1))
		if err != nil {
			return err
		}
		up, took, err := b.up(ctx, p, true, services)
		if err != nil {
			return err
		}
		if !harness.SameSet(up.Build.Built, services...) || len(up.Build.Cached) != 0 {
			return fmt.Errorf("run %d: fresh state built %v, cached %v; want all four built", i+1, up.Build.Built, up.Build.Cached)
		}
		r, err := b.ladder(ctx, p, "snapshot", "show", up.Snapshot.ID, "-o", "json")
		if err != nil || r.Code != 0 {
			return fmt.Errorf("run %d: ladder snapshot show: exit %d %v", i+1, r.Code, err)
		}
		var show snapshotShow
		if err := json.Unmarshal(r.Stdout, &show); err != nil || len(show.Artifacts) != len(services) {
			return fmt.Errorf("run %d: ladder snapshot show -o json: %d artifacts (%v)\n%s", i+1, len(show.Artifacts), err, harness.Tail(r.Stdout))
		}
		var total int64
		for _, s := range services {
			b.res.count("size "+s, show.Artifacts[s].Size)
			total += show.Artifacts[s].Size
		}
		b.res.count("size total", total)
		store := filepath.Join(p.Dir, ".ladder", "artifacts")
		apparent, allocated, err := engine.DirBytes(store)
		if err != nil {
			return err
		}
		b.res.count("size dir", apparent)
		b.res.count("size du", allocated)
		parts, err := os.ReadDir(store)
		if err != nil {
			return err
		}
		for _, e := range parts {
			if e.IsDir() {
				n, _, err := engine.DirBytes(filepath.Join(store, e.Name()))
				if err != nil {
					return err
				}
				b.res.count("size part "+e.Name(), n)
			}
		}

		again, took2, err := b.up(ctx, p, false, services)
		if err != nil {
			return fmt.Errorf("run %d: second up: %w", i+1, err)
		}
		if len(again.Build.Built) != 0 || !harness.SameSet(again.Build.Cached, services...) || again.Deploy.Release != 0 {
			return fmt.Errorf("run %d: second up built %v, cached %v, release %d; want no work", i+1, again.Build.Built, again.Build.Cached, again.Deploy.Release)
		}
		third, took3, err := b.up(ctx, p, false, services)
		if err != nil {
			return fmt.Errorf("run %d: third up: %w", i+1, err)
		}
		if len(third.Build.Built) != 0 || third.Deploy.Release != 0 {
			return fmt.Errorf("run %d: third up built %v, release %d; want no work", i+1, third.Build.Built, third.Deploy.Release)
		}
		b.res.Add("img.build", up.Build.BuildTime)
		b.res.Add("img.first", took)
		b.res.Add("img.again.build", again.Build.BuildTime)
		b.res.Add("img.again.total", took2)
		b.res.Add("img.third.build", third.Build.BuildTime)
		b.res.Add("img.third.total", took3)
		b.Logf("assembly %d/%d: build %s (%d bytes of artifacts, %d under .ladder/artifacts); second up build %s, third %s",
			i+1, b.cfg.assemble, harness.Ms(up.Build.BuildTime), total, apparent, harness.Ms(again.Build.BuildTime), harness.Ms(third.Build.BuildTime))
		if err := b.down(ctx, p); err != nil {
			return err
		}
		if err := engine.RemoveImages(ctx, p.stack); err != nil {
			return err
		}
	}
	return nil
}
