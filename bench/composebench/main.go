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
	"strings"
	"sync"
	"time"

	"github.com/ladderhq/ladder/bench/internal/engine"
	"github.com/ladderhq/ladder/bench/internal/harness"
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
	ctx, stop := harness.SignalContext()
	defer stop()

	if err := checkTools(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "composebench:", err)
		return 1
	}
	r, err := harness.New("composebench", *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "composebench:", err)
		return 1
	}
	b := &bench{Run: r, cfg: cfg, prefix: "cb" + randHex(4), res: newResults(), given: *bin}
	b.res.env = b.environment()
	runErr := b.measure(ctx)
	b.res.env.LoadAfter = harness.LoadAvg()
	cleanErr := r.Cleanup(5*time.Minute, harness.Hooks{After: b.removeStacks, Sweep: b.sweep})
	if !r.Outcome(ctx, runErr, cleanErr) {
		return 1
	}
	md := b.res.markdown(cfg, b.cmds)
	fmt.Print(md)
	if err := r.WriteResults(*out, "compose", md); err != nil {
		r.Logf("%v", err)
		return 1
	}
	return 0
}

type config struct{ n, drift, services, noop, assemble int }

// bench is one run of the benchmark and what it started outside ladder,
// for its cleanup; the ladder stacks are tracked by the harness.
type bench struct {
	*harness.Run
	cfg    config
	given  string // -ladder: a prebuilt binary to measure
	prefix string // prefix of every Compose project, image and container of this run
	res    *results

	mu      sync.Mutex
	dcs     [][2]string // docker-compose projects: name, file
	stacks  []string    // stack names whose images to remove
	cmds    []string    // the commands run, one of each shape, for the report
	seenCmd map[string]bool
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
		b.cmds = append(b.cmds, strings.ReplaceAll(line, b.Tmp, "$TMP"))
	}
}

// measure takes every measurement; any failed check ends it.
func (b *bench) measure(ctx context.Context) error {
	if b.given != "" {
		b.Logf("copying %s to %s (run prefix %s)", b.given, b.Bin, b.prefix)
	} else {
		b.Logf("building ladder into %s (run prefix %s)", b.Bin, b.prefix)
	}
	if err := b.InstallLadder(ctx, b.given); err != nil {
		return err
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

// removeStacks runs in cleanup once every ladder stack is down: `docker-compose
// down -v` for every docker-compose project, then `docker rmi` of every
// image tag of the run's stacks.
func (b *bench) removeStacks(ctx context.Context) error {
	b.mu.Lock()
	dcs := append([][2]string(nil), b.dcs...)
	stacks := append([]string(nil), b.stacks...)
	b.mu.Unlock()
	var errs []error
	for _, dc := range dcs {
		errs = append(errs, engine.ComposeDown(ctx, dc[0], dc[1]))
	}
	for _, s := range stacks {
		errs = append(errs, engine.RemoveImages(ctx, s))
	}
	return errors.Join(errs...)
}

// sweep runs last in cleanup: anything still named after the run is
// removed, and is a failure.
func (b *bench) sweep(ctx context.Context) error {
	if left, err := engine.Sweep(ctx, b.prefix); err != nil || len(left) > 0 {
		return fmt.Errorf("left behind after cleanup (now removed): %v %v", left, err)
	}
	return nil
}

// checkTools fails early without an engine or docker-compose.
func checkTools(ctx context.Context) error {
	if _, err := engine.Docker(ctx, "version", "--format", "{{.Server.Version}}"); err != nil {
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
