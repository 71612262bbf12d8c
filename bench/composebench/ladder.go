package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ladderhq/ladder/bench/internal/engine"
	"github.com/ladderhq/ladder/bench/internal/harness"
)

// project is a copy of the demo laid out as `ladder demo` writes it, with
// a Compose project name of its own.
type project struct {
	*harness.Demo
	role    string // what the copy is for, part of its names
	stack   string // COMPOSE_PROJECT_NAME: the stack name, prefix of its image names
	webPort int
	env     []string
}

// composeProject is the Compose project ladder runs the copy's site as.
func (p *project) composeProject() string { return p.stack + "-local-default" }

// newProject copies the demo with one rung into b.Tmp/role and registers
// the copy for cleanup: `ladder down --volumes` there, then its images.
func (b *bench) newProject(role string) (*project, error) {
	d, port, err := harness.OneRungDemo(b.Repo, filepath.Join(b.Tmp, role))
	if err != nil {
		return nil, err
	}
	p := &project{Demo: d, role: role, stack: b.prefix + role, webPort: port}
	p.env = []string{"LADDER_TARGET=compose", "COMPOSE_PROJECT_NAME=" + p.stack, fmt.Sprintf("WEB_PORT=%d", port)}
	b.Track(p.Dir, p.env, []string{"down", "--volumes"})
	b.mu.Lock()
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
	if err := os.WriteFile(filepath.Join(p.Dir, "compose.yaml"), []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	// One rung of its own: the demo's ladder.yaml may name demo services.
	ladderYAML := "stack: compose.yaml\nenvironments:\n  local:\n    target: auto\n    health: {timeout: 60s}\n"
	return names, os.WriteFile(filepath.Join(p.Dir, "ladder.yaml"), []byte(ladderYAML), 0o644)
}

// ladder runs the ladder binary in p (at most 3 minutes) and notes the
// command for the report. The error is for a ladder that could not run or
// was cancelled; its exit code is in the result.
func (b *bench) ladder(ctx context.Context, p *project, args ...string) (harness.Result, error) {
	argv := append([]string{"-C", p.Dir}, args...)
	// One of each shape: the img1, img2, … copies run the same commands.
	shape := fmt.Sprintf("%s %s %d", strings.TrimRight(p.role, "0123456789"), args[0], len(args))
	b.note(shape, strings.Join(p.env, " ")+" "+b.Bin+" "+strings.Join(argv, " "))
	return b.Ladder(ctx, p.Dir, p.env, args...)
}

// up runs `ladder up -o json --dashboard 127.0.0.1:0` (-d when detach)
// and checks that it ran on the compose target, as the copy's own Compose
// project, with exactly the services of want, each healthy.
func (b *bench) up(ctx context.Context, p *project, detach bool, want []string) (*harness.Up, time.Duration, error) {
	args := harness.UpArgs(detach)
	r, err := b.ladder(ctx, p, args...)
	if err != nil {
		return nil, 0, err
	}
	up, err := harness.ParseUp(r, args, "compose")
	if err != nil {
		return nil, 0, err
	}
	what := "ladder " + strings.Join(args, " ")
	if got := up.Status.Sites[0].Runtime["project"]; got != p.composeProject() {
		return nil, 0, fmt.Errorf("%s: Compose project %q, want %q", what, got, p.composeProject())
	}
	if _, err := instances(up, want); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	return up, r.Took, nil
}

// instances is up.Instances(want...) that also fails on a service not in
// want: the no-op stack must run exactly the services generated.
func instances(up *harness.Up, want []string) (map[string][]string, error) {
	ids, err := up.Instances(want...)
	if err == nil && len(ids) != len(want) {
		err = fmt.Errorf("%d services in the status, want %d", len(ids), len(want))
	}
	return ids, err
}

// down runs `ladder down --volumes` in p and waits until the engine has
// no container of its Compose project left.
func (b *bench) down(ctx context.Context, p *project) error {
	r, err := b.ladder(ctx, p, "down", "--volumes")
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return fmt.Errorf("ladder down: exit %d: %s", r.Code, harness.Tail(r.Stderr))
	}
	return engine.WaitNoContainers(ctx, p.composeProject(), 15*time.Second)
}
