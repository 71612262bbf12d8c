// Command ladderbench measures the environment ladder: what `ladder
// promote` costs beyond the deploy it carries out, how long `ladder lint`
// and `ladder diff` take on a generated stack of 1,000 services and 10
// environments, and how a rollback compares with a fresh deploy of the
// same snapshot.
//
// Run it from the repository:
//
//	go run ./bench/ladderbench                  # -n 10 promotions, -rollbacks 5, -runs 5 lint/diff
//	go run ./bench/ladderbench -services 0      # skip the 1,000-service part
//	go run ./bench/ladderbench -out - -keep     # no results file; keep the temp dir
//
// It builds the ladder binary once into a temp dir (or copies -ladder BIN
// there) and copies the trading demo the way the e2e tests do (go.mod and
// go.sum at the top, the stack under examples/trading, never its .ladder
// state). The copy gets the four-rung ladder.yaml of e2e/ladder_test.go,
// every rung on the process target with `dashboard: 127.0.0.1:0`, and web's
// published port made ephemeral ("8080"); every command runs with
// LADDER_TARGET=process. No fixed port is used anywhere.
//
//  1. Promotion overhead: local runs S1 and dev has it (one promotion);
//     S2 is the same stack with one more environment value on web (no
//     build). Then 2N deploys to dev alternate S1 and S2, N of them by
//     `ladder promote S --to dev -o json` (overhead = wall time minus the
//     JSON's deploy.duration) and N by `ladder rollback dev --to S -o json`
//     (the same deploy without gates), interleaved. Before each promotion
//     `ladder rollback local --to S` (untimed) makes S local's current
//     release, as the previous-rung gate asks. The artifact layout's
//     index.json bytes and the number of artifact.built events (from the
//     local agent's API) must not change across them: no build.
//  2. A generated project of -services (1,000) services and -envs (10)
//     rungs shaped like internal/parity's benchmark project, each service
//     `build: ./svc` of one tiny Go main package. Its snapshot is built once
//     in setup with ladder's own build and snapshot code
//     (deploy.MakeSnapshot, what `ladder up` runs before it deploys), so
//     that nothing deploys 1,000 processes; setup is timed and bounded by
//     -setup-timeout. Then `ladder lint` and `ladder diff e1 e9`, -runs
//     times each, interleaved, after one untimed-for-the-median first run,
//     and `go test -run=^$ -bench=. ./internal/parity/`, quoted.
//  3. Rollback vs fresh deploy, -rollbacks rounds on dev: (a) dev runs S2,
//     `ladder rollback dev -o json` must go back to the known-good S1, and
//     S2 is promoted back, untimed; (b) `ladder down --env dev`, then
//     `ladder rollback dev --to S1 -o json` deploys S1 on the empty site
//     (starting the dev agent and all four services), and S2 is promoted
//     back, untimed.
//
// Parts 1 and 3 run first, on the demo copy, whose rungs are then taken
// down; part 2 runs last. It prints Markdown (medians, min, max, N,
// ratios, load averages, the exact commands) and writes the same to
// bench/results/ladder-DATE.md. Timings are reported, never asserted: it
// exits 1 only when a run did not do the work it claims to measure or
// something could not be cleaned up. At the end, also on failure or
// Ctrl-C: `ladder down --env E` for every rung of the demo copy, then a
// scan of /proc for any process whose executable lies under the temp dir
// (agents and service instances), killed and reported.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() { os.Exit(realMain()) }

type bench struct {
	repo, tmp    string
	ladderBin    string
	n, rollbacks int
	runs         int
	services     int
	envs         int
	setupTimeout time.Duration
	keep         bool

	mu       sync.Mutex
	projects []*project // copies ladder may have started agents in
}

func realMain() int {
	b := &bench{}
	flag.IntVar(&b.n, "n", 10, "promotions (and as many direct deploys) to dev")
	flag.IntVar(&b.rollbacks, "rollbacks", 5, "rounds of rollback vs fresh deploy")
	flag.IntVar(&b.runs, "runs", 5, "timed runs of ladder lint and of ladder diff on the generated project")
	flag.IntVar(&b.services, "services", 1000, "services in the generated project (0 skips that part)")
	flag.IntVar(&b.envs, "envs", 10, "environments in the generated project (at least 10: diff compares e1 and e9)")
	flag.DurationVar(&b.setupTimeout, "setup-timeout", 30*time.Minute, "bound on building the generated project's snapshot")
	bin := flag.String("ladder", "", "measure this ladder binary instead of building ./cmd/ladder")
	out := flag.String("out", "", "results file (default bench/results/ladder-DATE.md in the module; \"-\" for none)")
	flag.BoolVar(&b.keep, "keep", false, "keep the temp dir (copies, state) for inspection")
	flag.Parse()
	if b.n < 1 || b.rollbacks < 1 || b.runs < 1 || b.services < 0 || (b.services > 0 && b.envs < 10) || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/ladderbench [-n 10] [-rollbacks 5] [-runs 5] [-services 1000] [-envs 10] [-setup-timeout 30m] [-ladder BIN] [-out FILE] [-keep]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	if b.repo, err = moduleRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "ladderbench:", err)
		return 1
	}
	if b.tmp, err = os.MkdirTemp("", "ladderbench-"); err != nil {
		fmt.Fprintln(os.Stderr, "ladderbench:", err)
		return 1
	}
	res, runErr := b.run(ctx, *bin)
	cleanErr := b.cleanup()
	if runErr != nil {
		if ctx.Err() != nil {
			runErr = fmt.Errorf("interrupted: %w", runErr)
		}
		fmt.Fprintln(os.Stderr, "ladderbench: FAILED:", runErr)
	}
	if cleanErr != nil {
		fmt.Fprintln(os.Stderr, "ladderbench: cleanup:", cleanErr)
	}
	if runErr != nil || cleanErr != nil {
		return 1
	}
	md := res.markdown(b)
	fmt.Print(md)
	if *out != "-" {
		path := *out
		if path == "" {
			path = filepath.Join(b.repo, "bench", "results", "ladder-"+time.Now().Format("2006-01-02")+".md")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			err = os.WriteFile(path, []byte(md), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "ladderbench: writing results:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "ladderbench: wrote", path)
	}
	return 0
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ladderbench: "+format+"\n", args...)
}

// run takes every measurement; any failed check ends it with an error.
func (b *bench) run(ctx context.Context, bin string) (*results, error) {
	res := newResults()
	res.env = environment(b.repo)
	b.ladderBin = filepath.Join(b.tmp, "bin", "ladder")
	if bin != "" {
		// Copied under the temp dir, so the /proc scan finds its agents.
		data, err := os.ReadFile(bin)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(b.ladderBin), 0o755)
		}
		if err == nil {
			err = os.WriteFile(b.ladderBin, data, 0o755)
		}
		if err != nil {
			return nil, fmt.Errorf("copying -ladder %s: %w", bin, err)
		}
	} else {
		b.logf("building ladder into %s", b.ladderBin)
		if r, err := b.exec(ctx, b.repo, nil, 5*time.Minute, "go", "build", "-o", b.ladderBin, "./cmd/ladder"); err != nil || r.code != 0 {
			return nil, fmt.Errorf("go build ./cmd/ladder: %v\n%s", err, r.stderr)
		}
	}
	if err := b.promotions(ctx, res); err != nil {
		return nil, err
	}
	res.env.LoadMid = loadavg()
	if b.services > 0 {
		if err := b.big(ctx, res); err != nil {
			return nil, err
		}
	}
	res.env.LoadAfter = loadavg()
	return res, nil
}

type cmdResult struct {
	stdout, stderr []byte
	code           int
	took           time.Duration // wall time from start to exit
}

// exec runs name in dir with env added, bounded by limit. The error is
// for a command that could not run or was cancelled; its exit code is in
// the result.
func (b *bench) exec(ctx context.Context, dir string, env []string, limit time.Duration, name string, args ...string) (cmdResult, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// Interrupted like a user would: ladder then takes down what it started.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := cmdResult{stdout: out.Bytes(), stderr: errb.Bytes(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok && ctx.Err() == nil {
		r.code, err = ee.ExitCode(), nil
	}
	if err != nil {
		return r, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return r, nil
}

// ladder runs the ladder binary in dir (-C dir) on the process target,
// at most 3 minutes.
func (b *bench) ladder(ctx context.Context, dir string, args ...string) (cmdResult, error) {
	return b.exec(ctx, dir, []string{"LADDER_TARGET=process"}, 3*time.Minute, b.ladderBin, append([]string{"-C", dir}, args...)...)
}

// ladderOK is ladder that fails unless the command exits 0.
func (b *bench) ladderOK(ctx context.Context, dir string, args ...string) (cmdResult, error) {
	r, err := b.ladder(ctx, dir, args...)
	if err == nil && r.code != 0 {
		err = fmt.Errorf("ladder %s: exit %d\n%s%s", strings.Join(args, " "), r.code, tail(r.stdout), tail(r.stderr))
	}
	return r, err
}

// cleanup stops everything run started: `ladder down --env E` for every
// rung of every copy, then any process still running an executable from
// the temp dir.
func (b *bench) cleanup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var errs []error
	b.mu.Lock()
	projects := append([]*project(nil), b.projects...)
	b.mu.Unlock()
	if _, err := os.Stat(b.ladderBin); err == nil {
		for _, p := range projects {
			if _, err := os.Stat(filepath.Join(p.dir, ".ladder")); err != nil {
				continue // ladder never ran there
			}
			for _, env := range p.envs {
				r, err := b.ladder(ctx, p.dir, "down", "--env", env)
				if err != nil {
					errs = append(errs, fmt.Errorf("ladder down --env %s in %s: %w", env, p.dir, err))
				} else if r.code != 0 && r.code != exitNotRunning {
					errs = append(errs, fmt.Errorf("ladder down --env %s in %s: exit %d: %s", env, p.dir, r.code, tail(r.stderr)))
				}
			}
		}
	}
	if left := waitGone(b.tmp, 15*time.Second); len(left) > 0 {
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		errs = append(errs, fmt.Errorf("processes still running from %s after ladder down (killed): %v", b.tmp, left))
	}
	if b.keep {
		b.logf("kept %s", b.tmp)
	} else if err := os.RemoveAll(b.tmp); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// exitNotRunning is ladder's exit code for "nothing running".
const exitNotRunning = 4

// processesUnder lists the processes whose executable lies under dir:
// the ladder agents (the binary is in the temp dir) and the service
// instances they run from the unpacked images in .ladder.
func processesUnder(dir string) []int {
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.HasPrefix(exe, prefix) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitGone waits up to d for every process under dir to exit and returns
// those still running.
func waitGone(dir string, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		left := processesUnder(dir)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// moduleRoot is the directory of the ladder module ladderbench runs in.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not in a Go module: run ladderbench from the ladder repository")
	}
	root := filepath.Dir(gomod)
	if _, err := os.Stat(filepath.Join(root, "cmd", "ladder")); err != nil {
		return "", fmt.Errorf("%s has no cmd/ladder: run ladderbench from the ladder repository", root)
	}
	return root, nil
}

// tail is the last few lines of a command's output, for error messages.
func tail(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n") + "\n"
}
