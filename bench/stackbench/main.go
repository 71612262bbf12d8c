// Command stackbench measures a cold `ladder up` of a stack shaped like a
// real application on the compose target against docker-compose running
// the very same containers: PostgreSQL 15 (ladder.local/postgres:15), a
// migration job and a queue on ladder.local/debian:bookworm, and three Go
// services built by ladder (api, worker, web), in depends_on chains
// (service_healthy, service_completed_successfully). The stack is in
// testdata/stack.
//
// Run it from the repository, with a Docker engine and docker-compose:
//
//	go run ./bench/stackbench              # -n 5 rounds
//	go run ./bench/stackbench -n 2 -out -  # quicker, no results file
//
// It makes the two images with scripts/debian-image.sh when the engine
// lacks them, builds ladder once, and copies the stack into a temp dir
// with a go.mod of its own, a COMPOSE_PROJECT_NAME of its own
// (sb<hex>stack) and LADDER_TARGET=compose. A first `ladder up -d` builds
// and loads the images and renders the Compose file, which is kept for
// docker-compose; then each round, alternating:
//
//   - ladder cold: no .ladder (empty artifact store, no state, no agent),
//     nothing running: `ladder up -d -o json` from exec to exit (it exits
//     when every service is healthy and the job completed), then `ladder
//     down --volumes`, untimed. The run's own shared store
//     (LADDER_SHARED_DIR in the temp dir) holds the engine's images as
//     the first up copied them, as it would for a project checked out on
//     a machine where another project ran them: the pin links them;
//   - ladder cold, nothing shared: the same with LADDER_SHARED_DIR=off,
//     so the pin copies both images out of the engine (`docker save`),
//     as on a machine where no project ran them (-unshared=false skips
//     it);
//   - docker-compose: `docker-compose -p P -f FILE up -d` on the kept file
//     (images in the engine, as after a pull; no container), timed until
//     every container with a healthcheck is healthy, then `down -v`;
//   - ladder warm: the same `ladder up -d` with .ladder kept from the cold
//     run (images in the artifact store), nothing running.
//
// Figures are medians; they are reported, never asserted. A run that did
// not do the work it claims makes it exit 1. Everything it starts is
// removed at the end, on failure and on Ctrl-C too.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ladderhq/ladder/bench/internal/engine"
	"github.com/ladderhq/ladder/bench/internal/harness"
)

// services are the stack's services; job is the one that runs to
// completion, the others must end healthy.
var (
	services = []string{"api", "db", "migrate", "queue", "web", "worker"}
	job      = "migrate"
	images   = map[string]string{"ladder.local/postgres:15": "postgresql-15", "ladder.local/debian:bookworm": ""}
)

const dcHealthTimeout = 3 * time.Minute

func main() { os.Exit(realMain()) }

func realMain() int {
	n := flag.Int("n", 5, "alternating rounds of ladder cold, docker-compose, ladder warm and ladder cold with nothing shared")
	out := flag.String("out", "", "results file (default bench/results/stack-DATE.md; \"-\" for none)")
	keep := flag.Bool("keep", false, "keep the temp dir (the copy, the rendered Compose file)")
	warm := flag.Bool("warm", true, "also time a warm ladder up (artifacts stored) each round")
	unshared := flag.Bool("unshared", true, "also time a cold ladder up with nothing in the machine's shared store each round")
	bin := flag.String("ladder", "", "measure this ladder binary instead of building ./cmd/ladder")
	flag.Parse()
	if *n < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/stackbench [-n 5] [-out FILE] [-keep] [-ladder BIN]")
		return 2
	}
	ctx, stop := harness.SignalContext()
	defer stop()
	if _, err := exec.LookPath("docker-compose"); err != nil {
		fmt.Fprintln(os.Stderr, "stackbench: docker-compose is not on PATH")
		return 1
	}
	r, err := harness.New("stackbench", *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stackbench:", err)
		return 1
	}
	b := &bench{Run: r, n: *n, warm: *warm, unshared: *unshared, given: *bin, prefix: "sb" + randHex(4), s: harness.Samples{}}
	b.env = r.Environment()
	runErr := b.measure(ctx)
	b.env.LoadAfter = harness.LoadAvg()
	cleanErr := r.Cleanup(5*time.Minute, harness.Hooks{After: b.removeStacks, Sweep: b.sweep})
	if !r.Outcome(ctx, runErr, cleanErr) {
		return 1
	}
	md := b.markdown()
	fmt.Print(md)
	if err := r.WriteResults(*out, "stack", md); err != nil {
		r.Logf("%v", err)
		return 1
	}
	return 0
}

type bench struct {
	*harness.Run
	n        int
	warm     bool
	unshared bool
	given    string
	prefix   string
	s        harness.Samples
	env      harness.Env
	loads    []string // load averages after each round

	mu      sync.Mutex
	dcFile  string
	stack   string
	dir     string
	envVars []string
	cmds    []string
}

func (b *bench) measure(ctx context.Context) error {
	for img, pkgs := range images {
		if err := ensureImage(ctx, b.Repo, img, pkgs); err != nil {
			return err
		}
	}
	b.Logf("ladder at %s (run prefix %s)", b.Bin, b.prefix)
	if err := b.InstallLadder(ctx, b.given); err != nil {
		return err
	}
	if err := b.copyStack(); err != nil {
		return err
	}
	if err := b.prepare(ctx); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	dc := b.prefix + "dc"
	for i := range b.n {
		cold, err := b.ladderUp(ctx, coldShared)
		if err != nil {
			return fmt.Errorf("round %d, ladder cold: %w", i+1, err)
		}
		start := time.Now()
		if _, err := engine.Compose(ctx, dc, b.dcFile, "up", "-d"); err != nil {
			return fmt.Errorf("round %d: %w", i+1, err)
		}
		returned := time.Since(start)
		checked, err := engine.WaitHealthy(ctx, dc, len(services), dcHealthTimeout)
		healthy := time.Since(start)
		if err != nil {
			return fmt.Errorf("round %d: %w", i+1, err)
		}
		if checked != len(services)-1 {
			return fmt.Errorf("round %d: %d docker-compose containers with a healthcheck, want %d", i+1, checked, len(services)-1)
		}
		if err := jobCompleted(ctx, dc); err != nil {
			return fmt.Errorf("round %d, docker-compose: %w", i+1, err)
		}
		b.s.Add("dc.returned", returned)
		b.s.Add("dc.healthy", healthy)
		if err := engine.ComposeDown(ctx, dc, b.dcFile); err != nil {
			return err
		}
		var warm time.Duration
		if b.warm {
			if warm, err = b.ladderUp(ctx, warmUp); err != nil {
				return fmt.Errorf("round %d, ladder warm: %w", i+1, err)
			}
		}
		var unshared time.Duration
		if b.unshared {
			if unshared, err = b.ladderUp(ctx, coldUnshared); err != nil {
				return fmt.Errorf("round %d, ladder cold with nothing shared: %w", i+1, err)
			}
		}
		b.loads = append(b.loads, harness.LoadAvg())
		b.Logf("round %d/%d: ladder cold %s, docker-compose healthy %s (returned %s), ladder warm %s, ladder cold with nothing shared %s; load %s",
			i+1, b.n, harness.Ms(cold), harness.Ms(healthy), harness.Ms(returned), warmText(warm, b.warm), warmText(unshared, b.unshared), harness.LoadAvg())
	}
	return nil
}

// copyStack writes testdata/stack and a go.mod for its Go services into
// Tmp/stack and registers the copy for cleanup.
func (b *bench) copyStack() error {
	src := filepath.Join(b.Repo, "bench", "stackbench", "testdata", "stack")
	b.dir = filepath.Join(b.Tmp, "stack")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		dst := filepath.Join(b.dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return harness.CopyFile(path, dst)
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.dir, "go.mod"), []byte("module stackbench\n\ngo 1.26\n"), 0o644); err != nil {
		return err
	}
	b.stack = b.prefix + "stack"
	b.envVars = []string{"LADDER_TARGET=compose", "COMPOSE_PROJECT_NAME=" + b.stack, "LADDER_SHARED_DIR=" + b.shared()}
	b.Track(b.dir, b.envVars, []string{"down", "--volumes"})
	return nil
}

func (b *bench) composeProject() string { return b.stack + "-local-default" }

// shared is the run's shared store of engine image copies.
func (b *bench) shared() string { return filepath.Join(b.Tmp, "shared") }

// upKind is what a timed `ladder up` starts from.
type upKind int

const (
	coldShared   upKind = iota // no .ladder; the shared store has the images
	coldUnshared               // no .ladder, nothing shared
	warmUp                     // .ladder kept from the round's cold up
)

// prepare runs a first `ladder up -d`, which builds the Go services and
// loads every image into the engine under ladder's tags, keeps the
// Compose file it rendered for docker-compose, and takes the stack down.
func (b *bench) prepare(ctx context.Context) error {
	args := harness.UpArgs(true)
	r, err := b.ladder(ctx, args...)
	if err != nil {
		return err
	}
	up, err := harness.ParseUp(r, args, "compose")
	if err != nil {
		return err
	}
	file := up.Status.Sites[0].Runtime["composeFile"]
	if file == "" {
		return errors.New("the status names no rendered Compose file")
	}
	b.dcFile = filepath.Join(b.Tmp, "docker-compose.yaml")
	if err := harness.CopyFile(file, b.dcFile); err != nil {
		return err
	}
	b.note("ladder up", strings.Join(b.envVars, " ")+" "+b.Bin+" -C "+b.dir+" "+strings.Join(args, " "))
	b.note("dc up", "docker-compose -p "+b.prefix+"dc -f "+b.dcFile+" up -d  # then docker inspect every 50 ms until healthy")
	return b.down(ctx)
}

// ladderUp times `ladder up -d -o json` from nothing running; cold
// removes .ladder first. It checks what ran and takes the stack down.
func (b *bench) ladderUp(ctx context.Context, kind upKind) (time.Duration, error) {
	key, cold := "ladder.warm", kind != warmUp
	var env []string
	switch kind {
	case coldShared:
		key = "ladder.cold"
		// What the first up copied; linked, never copied again.
		if m, _ := filepath.Glob(filepath.Join(b.shared(), "engine", "*.json")); len(m) != len(images) {
			return 0, fmt.Errorf("the shared store holds %d image copies, want %d", len(m), len(images))
		}
	case coldUnshared:
		key, env = "ladder.unshared", []string{"LADDER_SHARED_DIR=off"}
	}
	if cold {
		if err := os.RemoveAll(filepath.Join(b.dir, ".ladder")); err != nil {
			return 0, err
		}
	}
	args := harness.UpArgs(true)
	r, err := b.ladderEnv(ctx, env, args...)
	if err != nil {
		return 0, err
	}
	up, err := harness.ParseUp(r, args, "compose")
	if err != nil {
		return 0, err
	}
	if got := up.Status.Sites[0].Runtime["project"]; got != b.composeProject() {
		return 0, fmt.Errorf("Compose project %q, want %q", got, b.composeProject())
	}
	var names []string
	for _, s := range up.Status.Sites[0].Services {
		names = append(names, s.Name)
		if s.Name != job && (s.Health != "healthy" || len(s.Instances) == 0) {
			return 0, fmt.Errorf("service %s is %q with %d instances", s.Name, s.Health, len(s.Instances))
		}
	}
	sort.Strings(names)
	if !harness.SameSet(names, services...) || up.Deploy.Release == 0 || !harness.SameSet(up.Deploy.Changed, services...) {
		return 0, fmt.Errorf("services %v, release %d changed %v; want all of %v started", names, up.Deploy.Release, up.Deploy.Changed, services)
	}
	if cold && len(up.Build.Cached) != 0 {
		return 0, fmt.Errorf("cold up found %v cached; want an empty artifact store", up.Build.Cached)
	}
	if err := jobCompleted(ctx, b.composeProject()); err != nil {
		return 0, err
	}
	b.s.Add(key, r.Took)
	b.s.Add(key+".build", up.Build.BuildTime)
	return r.Took, b.down(ctx)
}

func (b *bench) down(ctx context.Context) error {
	r, err := b.ladder(ctx, "down", "--volumes")
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return fmt.Errorf("ladder down: exit %d: %s", r.Code, harness.Tail(r.Stderr))
	}
	return engine.WaitNoContainers(ctx, b.composeProject(), 30*time.Second)
}

// jobCompleted checks that the project's migrate container exited 0.
func jobCompleted(ctx context.Context, project string) error {
	ids, err := engine.Containers(ctx, project, "label=com.docker.compose.service="+job)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return fmt.Errorf("%d %s containers, want 1", len(ids), job)
	}
	out, err := engine.Docker(ctx, "inspect", "--format", "{{json .State}}", ids[0])
	if err != nil {
		return err
	}
	var st struct {
		Status   string
		ExitCode int
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return err
	}
	if st.Status != "exited" || st.ExitCode != 0 {
		return fmt.Errorf("%s is %s with exit code %d, want exited 0", job, st.Status, st.ExitCode)
	}
	return nil
}

// ensureImage makes img with scripts/debian-image.sh unless the engine
// has it.
func ensureImage(ctx context.Context, repo, img, pkgs string) error {
	if _, err := engine.Docker(ctx, "image", "inspect", img); err == nil {
		return nil
	}
	args := []string{filepath.Join(repo, "scripts", "debian-image.sh"), img}
	if pkgs != "" {
		args = append(args, pkgs)
	}
	cmd := exec.CommandContext(ctx, "bash", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/debian-image.sh %s: %v\n%s", img, err, harness.Tail(out))
	}
	return nil
}

func (b *bench) note(_ string, line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cmds = append(b.cmds, strings.ReplaceAll(line, b.Tmp, "$TMP"))
}

// removeStacks runs in cleanup once the ladder stack is down:
// docker-compose's project, then the image tags ladder loaded.
func (b *bench) removeStacks(ctx context.Context) error {
	var errs []error
	if b.dcFile != "" {
		errs = append(errs, engine.ComposeDown(ctx, b.prefix+"dc", b.dcFile))
	}
	if b.stack != "" {
		errs = append(errs, engine.RemoveImages(ctx, b.stack))
	}
	return errors.Join(errs...)
}

func (b *bench) sweep(ctx context.Context) error {
	if left, err := engine.Sweep(ctx, b.prefix); err != nil || len(left) > 0 {
		return fmt.Errorf("left behind after cleanup (now removed): %v %v", left, err)
	}
	return nil
}

func randHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

// ladder runs the ladder binary in the copy, at most 10 minutes: the
// first up builds the Go services and copies a 475 MB image on a machine
// that may be busy.
func (b *bench) ladder(ctx context.Context, args ...string) (harness.Result, error) {
	return b.ladderEnv(ctx, nil, args...)
}

// ladderEnv is ladder with env added to (and overriding) the run's.
func (b *bench) ladderEnv(ctx context.Context, env []string, args ...string) (harness.Result, error) {
	return harness.Exec(ctx, b.dir, append(slices.Clone(b.envVars), env...), 10*time.Minute, b.Bin, append([]string{"-C", b.dir}, args...)...)
}

func warmText(d time.Duration, measured bool) string {
	if !measured {
		return "not measured"
	}
	return harness.Ms(d)
}
