package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

// project is a copy of the demo laid out as `ladder demo` writes it.
type project struct {
	*harness.Demo
	webPort int // WEB_PORT for ladder
}

// env is what every ladder command in p runs with. The process target
// always: "auto" picks compose when a Docker engine answers, and a compose
// project is shared by name with everyone running the demo on this
// machine.
func (p *project) env() []string {
	return []string{fmt.Sprintf("WEB_PORT=%d", p.webPort), "LADDER_TARGET=process"}
}

// copyProject copies the demo with one rung into b.Tmp/name.
func (b *bench) copyProject(name string) (*project, error) {
	d, port, err := harness.OneRungDemo(b.Repo, filepath.Join(b.Tmp, name))
	if err != nil {
		return nil, err
	}
	return &project{Demo: d, webPort: port}, nil
}

// newProject is copyProject for a copy ladder will run in: cleanup runs
// `ladder down` there.
func (b *bench) newProject(name string) (*project, error) {
	p, err := b.copyProject(name)
	if err != nil {
		return nil, err
	}
	b.Track(p.Dir, p.env(), []string{"down"})
	return p, nil
}

// ladder runs the ladder binary in p (at most 3 minutes). The error is
// for a ladder that could not run or was cancelled; its exit code is in
// the result.
func (b *bench) ladder(ctx context.Context, p *project, args ...string) (harness.Result, error) {
	return b.Ladder(ctx, p.Dir, p.env(), args...)
}

// up runs `ladder up -o json` (-d when detach) and returns what it said
// and how long it took; it must have run on the process target.
func (b *bench) up(ctx context.Context, p *project, detach bool) (*harness.Up, time.Duration, error) {
	args := harness.UpArgs(detach)
	r, err := b.ladder(ctx, p, args...)
	if err != nil {
		return nil, 0, err
	}
	up, err := harness.ParseUp(r, args, "process")
	if err != nil {
		return nil, 0, err
	}
	return up, r.Took, nil
}

func others() []string {
	return slices.DeleteFunc(slices.Clone(services), func(s string) bool { return s == changed })
}

// ladderCold is one cold up in a fresh copy, then `ladder down`.
// Recorded in res unless it is nil (the warm-up).
func (b *bench) ladderCold(ctx context.Context, name string, res *results) error {
	p, err := b.newProject(name)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(p.Dir, ".ladder")); !os.IsNotExist(err) {
		return fmt.Errorf("%s: .ladder exists before the cold up", p.Dir)
	}
	up, took, err := b.up(ctx, p, true)
	if err != nil {
		return fmt.Errorf("cold up: %w", err)
	}
	if _, err := up.Instances(services...); err != nil {
		return fmt.Errorf("cold up: %w", err)
	}
	switch {
	case !harness.SameSet(up.Build.Built, services...) || len(up.Build.Cached) != 0:
		return fmt.Errorf("cold up: built %v, cached %v; want all four built", up.Build.Built, up.Build.Cached)
	case up.Deploy.Release == 0 || !harness.SameSet(up.Deploy.Changed, services...):
		return fmt.Errorf("cold up: release %d changed %v; want a release starting all four", up.Deploy.Release, up.Deploy.Changed)
	case up.Build.BuildTime <= 0 || up.Build.BuildTime >= took:
		return fmt.Errorf("cold up: build.buildTime %s is not within the total %s", up.Build.BuildTime, took)
	}
	if res != nil {
		res.Add("ladder.cold.total", took)
		res.Add("ladder.cold.build", up.Build.BuildTime)
		res.Add("ladder.cold.deploy", took-up.Build.BuildTime)
	}
	b.Logf("  ladder cold up %s (build %s)", harness.Ms(took), harness.Ms(up.Build.BuildTime))
	if err := b.down(ctx, p); err != nil {
		return err
	}
	if !b.Keep {
		return os.RemoveAll(p.Root) // stopped: nothing for cleanup to do there
	}
	return nil
}

// down runs `ladder down` in p and waits until none of its processes run.
func (b *bench) down(ctx context.Context, p *project) error {
	r, err := b.ladder(ctx, p, "down")
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return fmt.Errorf("ladder down: exit %d: %s", r.Code, harness.Tail(r.Stderr))
	}
	return harness.Stopped(p.Root)
}

// ladderRunning measures the warm no-op up and the one-service-changed
// up against one running stack.
func (b *bench) ladderRunning(ctx context.Context, res *results) error {
	p, err := b.newProject("running")
	if err != nil {
		return err
	}
	b.Logf("ladder: up -d, then %d warm ups and %d ups with %s changed", b.warm, b.n, changed)
	up, _, err := b.up(ctx, p, true)
	if err != nil {
		return err
	}
	ids, err := up.Instances(services...)
	if err != nil {
		return err
	}
	for i := range b.warm {
		up, took, err := b.up(ctx, p, false)
		if err != nil {
			return fmt.Errorf("warm up %d: %w", i+1, err)
		}
		now, err := up.Instances(services...)
		if err != nil {
			return fmt.Errorf("warm up %d: %w", i+1, err)
		}
		switch {
		case len(up.Build.Built) != 0 || !harness.SameSet(up.Build.Cached, services...):
			return fmt.Errorf("warm up %d: built %v, cached %v; want nothing built", i+1, up.Build.Built, up.Build.Cached)
		case up.Deploy.Release != 0 || len(up.Deploy.Changed) != 0:
			return fmt.Errorf("warm up %d: release %d, changed %v; want release 0 and nothing changed", i+1, up.Deploy.Release, up.Deploy.Changed)
		case fmt.Sprint(now) != fmt.Sprint(ids):
			return fmt.Errorf("warm up %d: instances changed from %v to %v", i+1, ids, now)
		}
		res.Add("ladder.warm", took)
	}
	src := filepath.Join(p.Dir, "services", changed, "main.go")
	for i := range b.n {
		if err := appendLine(src, fmt.Sprintf("// upbench: ladder change %d at %d\n", i+1, time.Now().UnixNano())); err != nil {
			return err
		}
		up, took, err := b.up(ctx, p, false)
		if err != nil {
			return fmt.Errorf("changed up %d: %w", i+1, err)
		}
		now, err := up.Instances(services...)
		if err != nil {
			return fmt.Errorf("changed up %d: %w", i+1, err)
		}
		switch {
		case !harness.SameSet(up.Build.Built, changed) || !harness.SameSet(up.Build.Cached, others()...):
			return fmt.Errorf("changed up %d: built %v, cached %v; want only %s built", i+1, up.Build.Built, up.Build.Cached, changed)
		case up.Deploy.Release == 0 || !harness.SameSet(up.Deploy.Changed, changed):
			return fmt.Errorf("changed up %d: release %d, changed %v; want a release changing only %s", i+1, up.Deploy.Release, up.Deploy.Changed, changed)
		case slices.Equal(now[changed], ids[changed]):
			return fmt.Errorf("changed up %d: %s still runs instances %v", i+1, changed, now[changed])
		}
		for _, s := range others() {
			if !slices.Equal(now[s], ids[s]) {
				return fmt.Errorf("changed up %d: %s instances changed from %v to %v", i+1, s, ids[s], now[s])
			}
		}
		ids = now
		res.Add("ladder.changed.total", took)
		res.Add("ladder.changed.build", up.Build.BuildTime)
		b.Logf("  ladder up, %s changed: %s (build %s)", changed, harness.Ms(took), harness.Ms(up.Build.BuildTime))
	}
	return b.down(ctx, p)
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
