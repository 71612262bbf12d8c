// Command composebench measures ladder's compose target (a site run as a
// Compose project on the local Docker engine) against docker-compose
// running the very same containers, on the trading demo
// (examples/trading: four Go services).
//
// Run it from the repository, with a Docker engine and docker-compose:
//
//	go run ./bench/composebench              # defaults below
//	go run ./bench/composebench -n 3 -out -  # quicker, no results file
//
// It builds the ladder binary once (go build -o TMP/bin/ladder
// ./cmd/ladder; -ladder BIN measures a prebuilt binary instead) and copies the demo into temp dirs the way the e2e tests
// do (go.mod and go.sum at the top, the stack under examples/trading,
// never its .ladder state). Every copy gets a COMPOSE_PROJECT_NAME of its
// own (cb<random hex><role>, so its images are <that>-<service> and its
// Compose project <that>-local-default), a free WEB_PORT and
// LADDER_TARGET=compose; every ladder up gets --dashboard 127.0.0.1:0.
// Nothing uses a fixed port or anyone else's Compose project. Then:
//
//  1. up until all healthy, ladder vs docker-compose (-n runs, alternating):
//     one ladder up builds and loads the images and writes the rendered
//     Compose file, which is kept, then ladder down. Each round times
//     `ladder up -d -o json` from nothing running (images cached) until it
//     returns, every service healthy, then `ladder down`; and
//     `docker-compose -p P2 -f FILE up -d` plus polling `docker inspect`
//     until every container with a healthcheck is healthy (at most 120 s),
//     then `docker-compose down -v`.
//  2. drift detection (-drift runs): with the demo running, `docker stop -t
//     1` of the users container, then GET AGENT/api/v1/events?kind=
//     drift.detected every 10 ms until a new event appears; `ladder up`
//     repairs it and `ladder drift` must exit 0.
//  3. no-op up with many services (-services 20, -noop 15 runs): a stack of
//     that many copies of the demo's users service; `ladder up -o json`
//     with nothing changed must build nothing, release nothing and leave
//     every container as it was (ID, RestartCount, StartedAt).
//  4. image assembly (-assemble runs): a fresh copy builds the demo's four
//     images; artifact sizes from `ladder snapshot show ID -o json` and the
//     bytes under .ladder/artifacts; a second up must build nothing.
//
// It prints a Markdown table (median, min, max, N, ratios) and writes it to
// bench/results/compose-DATE.md. Timings are reported, never asserted; a
// run that did not do the work it claims to measure makes it exit 1.
// Everything it starts is removed at the end, on failure and on Ctrl-C
// too: `ladder down --volumes` in every copy, `docker-compose down -v` for
// every docker-compose project, `docker rmi` of every image tag of its
// stacks, then a sweep for any container, network, volume or image whose
// name carries the run's prefix (found ones are removed and it exits 1).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// services are the demo's services.
var services = []string{"notifications", "trades", "users", "web"}

func main() { os.Exit(realMain()) }

func realMain() int {
	var cfg config
	flag.IntVar(&cfg.n, "n", 5, "alternating rounds of ladder vs docker-compose up until healthy")
	flag.IntVar(&cfg.drift, "drift", 10, "drift detection runs")
	flag.IntVar(&cfg.services, "services", 20, "services in the no-op stack")
	flag.IntVar(&cfg.noop, "noop", 15, "no-op ladder up runs on that stack")
	flag.IntVar(&cfg.assemble, "assemble", 3, "fresh image assembly runs")
	out := flag.String("out", "", "results file (default bench/results/compose-DATE.md; \"-\" for none)")
	keep := flag.Bool("keep", false, "keep the temp dir (copies, compose file) for inspection")
	bin := flag.String("ladder", "", "measure this ladder binary (copied into the temp dir) instead of building ./cmd/ladder")
	flag.Parse()
	if cfg.n < 1 || cfg.drift < 1 || cfg.services < 1 || cfg.noop < 1 || cfg.assemble < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/composebench [-n 5] [-drift 10] [-services 20] [-noop 15] [-assemble 3] [-out FILE] [-keep]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	repo, err := moduleRoot()
	if err == nil {
		err = checkTools(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "composebench:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "composebench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "composebench:", err)
		return 1
	}
	b := &bench{cfg: cfg, repo: repo, tmp: tmp, keep: *keep, run: "cb" + randHex(4), res: newResults(), given: *bin}
	b.res.env = environment(repo, b.run, tmp)
	if b.given != "" {
		b.res.env.Commit = "binary " + b.given + " (-ladder)"
		b.res.env.Binary = "a copy of " + b.given
	}
	runErr := b.measure(ctx)
	b.res.env.LoadAfter = loadavg()
	cleanErr := b.cleanup()
	if runErr != nil {
		if ctx.Err() != nil {
			runErr = fmt.Errorf("interrupted: %w", runErr)
		}
		fmt.Fprintln(os.Stderr, "composebench: FAILED:", runErr)
	}
	if cleanErr != nil {
		fmt.Fprintln(os.Stderr, "composebench: cleanup:", cleanErr)
	}
	if runErr != nil || cleanErr != nil {
		return 1
	}
	md := b.res.markdown(cfg, b.cmds)
	fmt.Print(md)
	if *out != "-" {
		path := *out
		if path == "" {
			path = filepath.Join(repo, "bench", "results", "compose-"+time.Now().Format("2006-01-02")+".md")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			err = os.WriteFile(path, []byte(md), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "composebench: writing results:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "composebench: wrote", path)
	}
	return 0
}

type config struct{ n, drift, services, noop, assemble int }

// bench is one run of the benchmark and everything it must clean up.
type bench struct {
	cfg       config
	repo, tmp string
	keep      bool
	given     string // -ladder: a prebuilt binary to measure
	run       string // prefix of every Compose project, image and container of this run
	ladderBin string
	res       *results

	mu       sync.Mutex
	projects []*project  // copies ladder may have started a stack from
	dcs      [][2]string // docker-compose projects: name, file
	stacks   []string    // stack names whose images to remove
	cmds     []string    // the commands run, one of each shape, for the report
	seenCmd  map[string]bool
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "composebench: "+format+"\n", args...)
}

// note records a command line for the report, once per shape.
func (b *bench) note(shape, line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seenCmd == nil {
		b.seenCmd = map[string]bool{}
	}
	if !b.seenCmd[shape] {
		b.seenCmd[shape] = true
		b.cmds = append(b.cmds, strings.ReplaceAll(line, b.tmp, "$TMP"))
	}
}

// measure takes every measurement; any failed check ends it.
func (b *bench) measure(ctx context.Context) error {
	b.ladderBin = filepath.Join(b.tmp, "bin", "ladder")
	if b.given != "" {
		// In the temp dir like a built one, so the final process scan
		// finds its agents.
		b.logf("copying %s to %s (run prefix %s)", b.given, b.ladderBin, b.run)
		if err := copyFile(b.given, b.ladderBin); err != nil {
			return err
		}
		if err := os.Chmod(b.ladderBin, 0o755); err != nil {
			return err
		}
	} else {
		b.logf("building ladder into %s (run prefix %s)", b.ladderBin, b.run)
		build := exec.CommandContext(ctx, "go", "build", "-o", b.ladderBin, "./cmd/ladder")
		build.Dir = b.repo
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/ladder: %v\n%s", err, out)
		}
	}
	demo, file, err := b.prepare(ctx)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	if err := b.upVsCompose(ctx, demo, file); err != nil {
		return fmt.Errorf("up vs docker-compose: %w", err)
	}
	if err := b.driftLatency(ctx, demo); err != nil {
		return fmt.Errorf("drift: %w", err)
	}
	if err := b.noopMany(ctx); err != nil {
		return fmt.Errorf("no-op with %d services: %w", b.cfg.services, err)
	}
	if err := b.assembly(ctx); err != nil {
		return fmt.Errorf("image assembly: %w", err)
	}
	return nil
}

// cleanup removes everything measure started, whatever state it was left
// in, then sweeps for anything named after the run and removes it too.
func (b *bench) cleanup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var errs []error
	b.mu.Lock()
	projects := append([]*project(nil), b.projects...)
	dcs := append([][2]string(nil), b.dcs...)
	stacks := append([]string(nil), b.stacks...)
	b.mu.Unlock()
	if _, err := os.Stat(b.ladderBin); err == nil {
		for _, p := range projects {
			if _, err := os.Stat(filepath.Join(p.dir, ".ladder")); err != nil {
				continue // ladder never ran there
			}
			r, err := b.ladder(ctx, p, "down", "--volumes")
			if err != nil {
				errs = append(errs, fmt.Errorf("ladder down in %s: %w", p.dir, err))
			} else if r.code != 0 && r.code != exitNotRunning {
				errs = append(errs, fmt.Errorf("ladder down in %s: exit %d: %s", p.dir, r.code, tail(r.stderr)))
			}
		}
	}
	for _, dc := range dcs {
		if err := composeDown(ctx, dc[0], dc[1]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range stacks {
		if err := removeImages(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	if left := waitGone(b.tmp, 15*time.Second); len(left) > 0 {
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		errs = append(errs, fmt.Errorf("processes still running from %s after cleanup (killed): %v", b.tmp, left))
	}
	if left, err := sweep(ctx, b.run); err != nil || len(left) > 0 {
		errs = append(errs, fmt.Errorf("left behind after cleanup (now removed): %v %v", left, err))
	}
	if b.keep {
		b.logf("kept %s", b.tmp)
	} else if err := os.RemoveAll(b.tmp); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// moduleRoot is the directory of the ladder module composebench runs in.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not in a Go module: run composebench from the ladder repository")
	}
	root := filepath.Dir(gomod)
	if _, err := os.Stat(filepath.Join(root, "cmd", "ladder")); err != nil {
		return "", fmt.Errorf("%s has no cmd/ladder: run composebench from the ladder repository", root)
	}
	return root, nil
}

// checkTools fails early without an engine or docker-compose.
func checkTools(ctx context.Context) error {
	if _, err := docker(ctx, "version", "--format", "{{.Server.Version}}"); err != nil {
		return fmt.Errorf("no Docker engine answers: %w", err)
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		return errors.New("docker-compose is not on PATH")
	}
	return nil
}

func randHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}
