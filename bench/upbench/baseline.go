package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

// startOrder is the dependency order of the demo's compose.yaml: each
// group is started together and must be healthy before the next starts.
var startOrder = [][]string{{"users", "notifications"}, {"trades"}, {"web"}}

// baseline is the loop a developer without ladder runs for the demo:
// go build each service, start the binaries, poll /healthz.
type baseline struct {
	b     *bench
	p     *project
	bin   string // output dir of the current go builds
	ports map[string]int
	procs map[string]*proc
}

func (b *bench) newBaseline(name string) (*baseline, error) {
	p, err := b.copyProject(name) // ladder never runs here
	if err != nil {
		return nil, err
	}
	return &baseline{b: b, p: p, procs: map[string]*proc{}}, nil
}

// goBuild builds one service as the demo's README and a Makefile would.
func (bl *baseline) goBuild(ctx context.Context, svc string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w",
		"-o", filepath.Join(bl.bin, svc), "./examples/trading/services/"+svc)
	cmd.Dir = bl.p.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", svc, err, out)
	}
	return nil
}

// buildAll builds the four services one after the other.
func (bl *baseline) buildAll(ctx context.Context) error {
	for _, svc := range services {
		if err := bl.goBuild(ctx, svc); err != nil {
			return err
		}
	}
	return nil
}

// allocPorts picks a fresh free port for every service.
func (bl *baseline) allocPorts() error {
	bl.ports = map[string]int{}
	for _, svc := range services {
		port, err := harness.FreePort()
		if err != nil {
			return err
		}
		bl.ports[svc] = port
	}
	return nil
}

func (bl *baseline) url(svc string) string {
	return fmt.Sprintf("http://127.0.0.1:%d", bl.ports[svc])
}

// start starts one service and returns without waiting for it.
func (bl *baseline) start(svc string) error {
	env := []string{
		fmt.Sprintf("PORT=%d", bl.ports[svc]),
		"SEED=42",
		"USERS_URL=" + bl.url("users"),
		"TRADES_URL=" + bl.url("trades"),
		"NOTIFICATIONS_URL=" + bl.url("notifications"),
	}
	p, err := bl.b.startProc(svc, filepath.Join(bl.bin, svc), filepath.Join(bl.b.Tmp, "baseline-"+svc+".log"), env)
	if err != nil {
		return err
	}
	bl.procs[svc] = p
	return nil
}

// startAll starts the services in dependency order, each group healthy
// before the next.
func (bl *baseline) startAll(ctx context.Context) error {
	for _, group := range startOrder {
		for _, svc := range group {
			if err := bl.start(svc); err != nil {
				return err
			}
		}
		for _, svc := range group {
			if err := waitHealthy(ctx, bl.procs[svc], bl.url(svc)+"/healthz", time.Minute); err != nil {
				return err
			}
		}
	}
	return nil
}

func (bl *baseline) stopAll() error {
	var first error
	for svc, p := range bl.procs {
		if err := bl.b.stopProc(p); err != nil && first == nil {
			first = err
		}
		delete(bl.procs, svc)
	}
	return first
}

// cold builds the four services into an empty output dir and starts them
// until all are healthy, then stops them (untimed). Recorded in res
// unless it is nil (the warm-up).
func (bl *baseline) cold(ctx context.Context, label string, res *results) (err error) {
	bl.bin = filepath.Join(bl.p.Root, "bin-"+label)
	if err := os.RemoveAll(bl.bin); err != nil {
		return err
	}
	if err := bl.allocPorts(); err != nil {
		return err
	}
	defer func() {
		if stopErr := bl.stopAll(); err == nil {
			err = stopErr
		}
	}()
	t0 := time.Now()
	if err := bl.buildAll(ctx); err != nil {
		return err
	}
	built := time.Since(t0)
	if err := bl.startAll(ctx); err != nil {
		return fmt.Errorf("by hand, cold: %w", err)
	}
	total := time.Since(t0)
	if res != nil {
		res.Add("base.cold.total", total)
		res.Add("base.cold.build", built)
		res.Add("base.cold.start", total-built)
	}
	bl.b.Logf("  by hand cold %s (build %s)", harness.Ms(total), harness.Ms(built))
	return nil
}

// running starts the stack once (untimed), then measures the no-op build
// and the one-service-changed loop against it.
func (bl *baseline) running(ctx context.Context, res *results) (err error) {
	bl.b.Logf("by hand: start the stack, then %d no-op builds and %d rebuilds with %s changed", bl.b.warm, bl.b.n, changed)
	bl.bin = filepath.Join(bl.p.Root, "bin-running")
	if err := bl.allocPorts(); err != nil {
		return err
	}
	defer func() {
		if stopErr := bl.stopAll(); err == nil {
			err = stopErr
		}
	}()
	if err := bl.buildAll(ctx); err != nil {
		return err
	}
	if err := bl.startAll(ctx); err != nil {
		return err
	}
	for range bl.b.warm {
		t0 := time.Now()
		if err := bl.buildAll(ctx); err != nil {
			return err
		}
		res.Add("base.noop", time.Since(t0))
	}
	binary := filepath.Join(bl.bin, changed)
	src := filepath.Join(bl.p.Dir, "services", changed, "main.go")
	for i := range bl.b.n {
		before, err := os.Stat(binary)
		if err != nil {
			return err
		}
		old := bl.procs[changed]
		if err := appendLine(src, fmt.Sprintf("// upbench: by-hand change %d at %d\n", i+1, time.Now().UnixNano())); err != nil {
			return err
		}
		t0 := time.Now()
		if err := bl.buildAll(ctx); err != nil {
			return err
		}
		built := time.Since(t0)
		if err := bl.b.stopProc(old); err != nil {
			return err
		}
		if err := bl.start(changed); err != nil {
			return err
		}
		if err := waitHealthy(ctx, bl.procs[changed], bl.url(changed)+"/healthz", time.Minute); err != nil {
			return fmt.Errorf("by hand, %s changed: %w", changed, err)
		}
		total := time.Since(t0)
		// The measurement is only worth something if the binary was really
		// rebuilt and a new process serves.
		after, err := os.Stat(binary)
		if err != nil {
			return err
		}
		if after.ModTime().Equal(before.ModTime()) {
			return fmt.Errorf("by hand, %s changed: go build did not rewrite %s", changed, binary)
		}
		if bl.procs[changed].cmd.Process.Pid == old.cmd.Process.Pid {
			return fmt.Errorf("by hand, %s changed: the old process still serves", changed)
		}
		res.Add("base.changed.total", total)
		res.Add("base.changed.build", built)
		res.Add("base.changed.restart", total-built)
		bl.b.Logf("  by hand, %s changed: %s (build %s)", changed, harness.Ms(total), harness.Ms(built))
	}
	return nil
}
