package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// exitNotRunning is ladder's exit code for "nothing running".
const exitNotRunning = 4

// project is a copy of the demo laid out as `ladder demo` writes it.
type project struct {
	root    string // the copy's module root (go.mod, go.sum)
	dir     string // the stack directory, root/examples/trading
	webPort int    // WEB_PORT for ladder
}

// copyProject copies go.mod, go.sum and examples/trading (without any
// .ladder state) from the repository into b.tmp/name.
func (b *bench) copyProject(name string) (*project, error) {
	root := filepath.Join(b.tmp, name)
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := copyFile(filepath.Join(b.repo, f), filepath.Join(root, f)); err != nil {
			return nil, err
		}
	}
	demo := filepath.Join(b.repo, "examples", "trading")
	err := filepath.WalkDir(demo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".ladder" {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(demo, path)
		dst := filepath.Join(root, "examples", "trading", rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		return copyFile(path, dst)
	})
	if err != nil {
		return nil, fmt.Errorf("copying the demo: %w", err)
	}
	// One rung: the demo's ladder auto-promotes local to dev, which would
	// start a second stack on fixed ports outside what is measured.
	oneRung := "stack: compose.yaml\nenvironments:\n  local:\n    target: auto\n    telemetry: {interval: 1s}\n"
	if err := os.WriteFile(filepath.Join(root, "examples", "trading", "ladder.yaml"), []byte(oneRung), 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return &project{root: root, dir: filepath.Join(root, "examples", "trading"), webPort: port}, nil
}

// newProject is copyProject for a copy ladder will run in: cleanup runs
// `ladder down` there.
func (b *bench) newProject(name string) (*project, error) {
	p, err := b.copyProject(name)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.projects = append(b.projects, p)
	b.mu.Unlock()
	return p, nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

type cmdResult struct {
	stdout, stderr []byte
	code           int
	took           time.Duration // wall time from start to exit
}

// ladder runs the ladder binary in p (at most 3 minutes). The error is
// for a ladder that could not run or was cancelled; its exit code is in
// the result.
func (b *bench) ladder(ctx context.Context, p *project, args ...string) (cmdResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.ladderBin, append([]string{"-C", p.dir}, args...)...)
	// The process target always: "auto" picks compose when a Docker engine
	// answers, and a compose project is shared by name with everyone
	// running the demo on this machine.
	cmd.Env = append(os.Environ(), fmt.Sprintf("WEB_PORT=%d", p.webPort), "LADDER_TARGET=process")
	// Interrupted like a user would: ladder then takes down what it started.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := cmdResult{stdout: out.Bytes(), stderr: errb.Bytes(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok && ctx.Err() == nil {
		r.code = ee.ExitCode()
		err = nil
	}
	if err != nil {
		return r, fmt.Errorf("ladder %s: %w", strings.Join(args, " "), err)
	}
	return r, nil
}

// upResult is the part of `ladder up -o json` upbench checks.
type upResult struct {
	Snapshot struct {
		ID string `json:"id"`
	} `json:"snapshot"`
	Build struct {
		Built     []string      `json:"built"`
		Cached    []string      `json:"cached"`
		BuildTime time.Duration `json:"buildTime"`
	} `json:"build"`
	Deploy struct {
		Snapshot string        `json:"snapshot"`
		Release  int64         `json:"release"`
		Changed  []string      `json:"changed"`
		Duration time.Duration `json:"duration"`
		Error    string        `json:"error"`
	} `json:"deploy"`
	Status struct {
		Target string `json:"target"`
		Sites  []struct {
			Services []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				Instances []struct {
					ID string `json:"id"`
				} `json:"instances"`
			} `json:"services"`
		} `json:"sites"`
	} `json:"status"`
}

// up runs `ladder up -o json` (-d when detach) and returns what it said
// and how long it took.
func (b *bench) up(ctx context.Context, p *project, detach bool) (*upResult, time.Duration, error) {
	args := []string{"up", "-o", "json", "--dashboard", "127.0.0.1:0"}
	if detach {
		args = append(args, "-d")
	}
	r, err := b.ladder(ctx, p, args...)
	if err != nil {
		return nil, 0, err
	}
	if r.code != 0 {
		return nil, 0, fmt.Errorf("ladder %s: exit %d\n%s%s", strings.Join(args, " "), r.code, tail(r.stdout), tail(r.stderr))
	}
	var up upResult
	if err := json.Unmarshal(r.stdout, &up); err != nil {
		return nil, 0, fmt.Errorf("ladder %s: %v\n%s", strings.Join(args, " "), err, tail(r.stdout))
	}
	if up.Snapshot.ID == "" || up.Deploy.Snapshot != up.Snapshot.ID || len(up.Status.Sites) == 0 {
		return nil, 0, fmt.Errorf("ladder %s: unexpected JSON (no snapshot, a deploy of another snapshot or no site):\n%s", strings.Join(args, " "), tail(r.stdout))
	}
	if up.Status.Target != "process" {
		return nil, 0, fmt.Errorf("ladder %s: the stack runs on the %q target, not process", strings.Join(args, " "), up.Status.Target)
	}
	return &up, r.took, nil
}

// instances maps each service of the first site to its instance IDs, and
// fails unless every service of the demo is there and healthy.
func (up *upResult) instances() (map[string][]string, error) {
	ids := map[string][]string{}
	for _, s := range up.Status.Sites[0].Services {
		if s.Health != "healthy" || len(s.Instances) == 0 {
			return nil, fmt.Errorf("service %s is %q with %d instances after up", s.Name, s.Health, len(s.Instances))
		}
		for _, in := range s.Instances {
			ids[s.Name] = append(ids[s.Name], in.ID)
		}
		slices.Sort(ids[s.Name])
	}
	for _, name := range services {
		if len(ids[name]) == 0 {
			return nil, fmt.Errorf("service %s missing from the status after up", name)
		}
	}
	return ids, nil
}

// sameSet reports whether got holds exactly want, in any order.
func sameSet(got []string, want ...string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
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
	if _, err := os.Stat(filepath.Join(p.dir, ".ladder")); !os.IsNotExist(err) {
		return fmt.Errorf("%s: .ladder exists before the cold up", p.dir)
	}
	up, took, err := b.up(ctx, p, true)
	if err != nil {
		return fmt.Errorf("cold up: %w", err)
	}
	if _, err := up.instances(); err != nil {
		return fmt.Errorf("cold up: %w", err)
	}
	switch {
	case !sameSet(up.Build.Built, services...) || len(up.Build.Cached) != 0:
		return fmt.Errorf("cold up: built %v, cached %v; want all four built", up.Build.Built, up.Build.Cached)
	case up.Deploy.Release == 0 || !sameSet(up.Deploy.Changed, services...):
		return fmt.Errorf("cold up: release %d changed %v; want a release starting all four", up.Deploy.Release, up.Deploy.Changed)
	case up.Build.BuildTime <= 0 || up.Build.BuildTime >= took:
		return fmt.Errorf("cold up: build.buildTime %s is not within the total %s", up.Build.BuildTime, took)
	}
	if res != nil {
		res.add("ladder.cold.total", took)
		res.add("ladder.cold.build", up.Build.BuildTime)
		res.add("ladder.cold.deploy", took-up.Build.BuildTime)
	}
	b.logf("  ladder cold up %s (build %s)", ms(took), ms(up.Build.BuildTime))
	if err := b.down(ctx, p); err != nil {
		return err
	}
	if !b.keep {
		return os.RemoveAll(p.root) // stopped: nothing for cleanup to do there
	}
	return nil
}

// down runs `ladder down` in p and waits until none of its processes run.
func (b *bench) down(ctx context.Context, p *project) error {
	r, err := b.ladder(ctx, p, "down")
	if err != nil {
		return err
	}
	if r.code != 0 {
		return fmt.Errorf("ladder down: exit %d: %s", r.code, tail(r.stderr))
	}
	if left := waitGone(p.root, 15*time.Second); len(left) > 0 {
		return fmt.Errorf("processes from %s still running 15s after ladder down: %v", p.root, left)
	}
	return nil
}

// ladderRunning measures the warm no-op up and the one-service-changed
// up against one running stack.
func (b *bench) ladderRunning(ctx context.Context, res *results) error {
	p, err := b.newProject("running")
	if err != nil {
		return err
	}
	b.logf("ladder: up -d, then %d warm ups and %d ups with %s changed", b.warm, b.n, changed)
	up, _, err := b.up(ctx, p, true)
	if err != nil {
		return err
	}
	ids, err := up.instances()
	if err != nil {
		return err
	}
	for i := range b.warm {
		up, took, err := b.up(ctx, p, false)
		if err != nil {
			return fmt.Errorf("warm up %d: %w", i+1, err)
		}
		now, err := up.instances()
		if err != nil {
			return fmt.Errorf("warm up %d: %w", i+1, err)
		}
		switch {
		case len(up.Build.Built) != 0 || !sameSet(up.Build.Cached, services...):
			return fmt.Errorf("warm up %d: built %v, cached %v; want nothing built", i+1, up.Build.Built, up.Build.Cached)
		case up.Deploy.Release != 0 || len(up.Deploy.Changed) != 0:
			return fmt.Errorf("warm up %d: release %d, changed %v; want release 0 and nothing changed", i+1, up.Deploy.Release, up.Deploy.Changed)
		case fmt.Sprint(now) != fmt.Sprint(ids):
			return fmt.Errorf("warm up %d: instances changed from %v to %v", i+1, ids, now)
		}
		res.add("ladder.warm", took)
	}
	src := filepath.Join(p.dir, "services", changed, "main.go")
	for i := range b.n {
		if err := appendLine(src, fmt.Sprintf("// upbench: ladder change %d at %d\n", i+1, time.Now().UnixNano())); err != nil {
			return err
		}
		up, took, err := b.up(ctx, p, false)
		if err != nil {
			return fmt.Errorf("changed up %d: %w", i+1, err)
		}
		now, err := up.instances()
		if err != nil {
			return fmt.Errorf("changed up %d: %w", i+1, err)
		}
		switch {
		case !sameSet(up.Build.Built, changed) || !sameSet(up.Build.Cached, others()...):
			return fmt.Errorf("changed up %d: built %v, cached %v; want only %s built", i+1, up.Build.Built, up.Build.Cached, changed)
		case up.Deploy.Release == 0 || !sameSet(up.Deploy.Changed, changed):
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
		res.add("ladder.changed.total", took)
		res.add("ladder.changed.build", up.Build.BuildTime)
		b.logf("  ladder up, %s changed: %s (build %s)", changed, ms(took), ms(up.Build.BuildTime))
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

// tail is the last few lines of a command's output, for error messages.
func tail(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n") + "\n"
}
