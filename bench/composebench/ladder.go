package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// exitNotRunning is ladder's exit code for "nothing running".
const exitNotRunning = 4

// project is a copy of the demo laid out as `ladder demo` writes it, with
// a Compose project name of its own.
type project struct {
	role    string // what the copy is for, part of its names
	root    string // the copy's module root (go.mod, go.sum)
	dir     string // the stack directory, root/examples/trading
	stack   string // COMPOSE_PROJECT_NAME: the stack name, prefix of its image names
	webPort int
	env     []string
}

// composeProject is the Compose project ladder runs the copy's site as.
func (p *project) composeProject() string { return p.stack + "-local-default" }

// newProject copies go.mod, go.sum and examples/trading (without any
// .ladder state) into b.tmp/role and registers the copy for cleanup.
func (b *bench) newProject(role string) (*project, error) {
	root := filepath.Join(b.tmp, role)
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
	p := &project{role: role, root: root, dir: filepath.Join(root, "examples", "trading"), stack: b.run + role, webPort: port}
	p.env = []string{"LADDER_TARGET=compose", "COMPOSE_PROJECT_NAME=" + p.stack, fmt.Sprintf("WEB_PORT=%d", port)}
	b.mu.Lock()
	b.projects = append(b.projects, p)
	b.stacks = append(b.stacks, p.stack)
	b.mu.Unlock()
	return p, nil
}

// writeManyServices replaces the copy's compose.yaml with n services, all
// built from the demo's users service, each publishing 8080 on a port
// the engine picks, with ladder's HTTP health probe and no depends_on.
func writeManyServices(p *project, n int) ([]string, error) {
	var b strings.Builder
	b.WriteString("# composebench: many copies of the users service.\nname: many\nservices:\n")
	var names []string
	for i := range n {
		name := fmt.Sprintf("svc%02d", i+1)
		names = append(names, name)
		fmt.Fprintf(&b, "  %s:\n    build: ./services/users\n    ports: [\"8080\"]\n    restart: unless-stopped\n", name)
		b.WriteString("    environment: {SEED: \"42\"}\n    x-ladder:\n      health: {path: /healthz}\n")
	}
	if err := os.WriteFile(filepath.Join(p.dir, "compose.yaml"), []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	// One rung of its own: the demo's ladder.yaml may name demo services.
	ladderYAML := "stack: compose.yaml\nenvironments:\n  local:\n    target: auto\n    health: {timeout: 60s}\n"
	return names, os.WriteFile(filepath.Join(p.dir, "ladder.yaml"), []byte(ladderYAML), 0o644)
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
	argv := append([]string{"-C", p.dir}, args...)
	// One of each shape: the img1, img2, … copies run the same commands.
	shape := fmt.Sprintf("%s %s %d", strings.TrimRight(p.role, "0123456789"), args[0], len(args))
	b.note(shape, strings.Join(p.env, " ")+" "+b.ladderBin+" "+strings.Join(argv, " "))
	cmd := exec.CommandContext(ctx, b.ladderBin, argv...)
	cmd.Env = append(os.Environ(), p.env...)
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

// upResult is the part of `ladder up -o json` composebench checks.
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
		Plan     string        `json:"plan"`
		Duration time.Duration `json:"duration"`
	} `json:"deploy"`
	Status struct {
		Target string `json:"target"`
		Agent  struct {
			URL string `json:"url"`
		} `json:"agent"`
		Sites []struct {
			Runtime  map[string]string `json:"runtime"`
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

// up runs `ladder up -o json --dashboard 127.0.0.1:0` (-d when detach)
// and checks that it ran on the compose target with every service of
// want healthy.
func (b *bench) up(ctx context.Context, p *project, detach bool, want []string) (*upResult, time.Duration, error) {
	args := []string{"up", "-o", "json", "--dashboard", "127.0.0.1:0"}
	if detach {
		args = append(args, "-d")
	}
	r, err := b.ladder(ctx, p, args...)
	if err != nil {
		return nil, 0, err
	}
	what := "ladder " + strings.Join(args, " ")
	if r.code != 0 {
		return nil, 0, fmt.Errorf("%s: exit %d\n%s%s", what, r.code, tail(r.stdout), tail(r.stderr))
	}
	var up upResult
	if err := json.Unmarshal(r.stdout, &up); err != nil {
		return nil, 0, fmt.Errorf("%s: %v\n%s", what, err, tail(r.stdout))
	}
	switch {
	case up.Snapshot.ID == "" || up.Deploy.Snapshot != up.Snapshot.ID || len(up.Status.Sites) == 0:
		return nil, 0, fmt.Errorf("%s: no snapshot, a deploy of another snapshot or no site:\n%s", what, tail(r.stdout))
	case up.Status.Target != "compose":
		return nil, 0, fmt.Errorf("%s: the stack runs on the %q target, not compose", what, up.Status.Target)
	case up.Status.Sites[0].Runtime["project"] != p.composeProject():
		return nil, 0, fmt.Errorf("%s: Compose project %q, want %q", what, up.Status.Sites[0].Runtime["project"], p.composeProject())
	}
	if _, err := up.instances(want); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	return &up, r.took, nil
}

// instances maps each service to its instance IDs, and fails unless
// exactly the services of want are there, each healthy.
func (up *upResult) instances(want []string) (map[string][]string, error) {
	ids := map[string][]string{}
	for _, s := range up.Status.Sites[0].Services {
		if s.Health != "healthy" || len(s.Instances) == 0 {
			return nil, fmt.Errorf("service %s is %q with %d instances", s.Name, s.Health, len(s.Instances))
		}
		for _, in := range s.Instances {
			ids[s.Name] = append(ids[s.Name], in.ID)
		}
		slices.Sort(ids[s.Name])
	}
	if len(ids) != len(want) {
		return nil, fmt.Errorf("%d services in the status, want %d", len(ids), len(want))
	}
	for _, name := range want {
		if len(ids[name]) == 0 {
			return nil, fmt.Errorf("service %s missing from the status", name)
		}
	}
	return ids, nil
}

// down runs `ladder down --volumes` in p and waits until the engine has
// no container of its Compose project left.
func (b *bench) down(ctx context.Context, p *project) error {
	r, err := b.ladder(ctx, p, "down", "--volumes")
	if err != nil {
		return err
	}
	if r.code != 0 {
		return fmt.Errorf("ladder down: exit %d: %s", r.code, tail(r.stderr))
	}
	return waitNoContainers(ctx, p.composeProject(), 15*time.Second)
}

// sameSet reports whether got holds exactly want, in any order.
func sameSet(got []string, want ...string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// tail is the last few lines of a command's output, for error messages.
func tail(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// freePort is a port nothing listens on right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
