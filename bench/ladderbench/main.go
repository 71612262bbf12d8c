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
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

func main() { os.Exit(realMain()) }

// bench is one run of the benchmark and its settings; the ladder stacks
// its cleanup takes down are tracked by the harness.
type bench struct {
	*harness.Run
	n, rollbacks int
	runs         int
	services     int
	envs         int
	setupTimeout time.Duration
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
	keep := flag.Bool("keep", false, "keep the temp dir (copies, state) for inspection")
	flag.Parse()
	if b.n < 1 || b.rollbacks < 1 || b.runs < 1 || b.services < 0 || (b.services > 0 && b.envs < 10) || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/ladderbench [-n 10] [-rollbacks 5] [-runs 5] [-services 1000] [-envs 10] [-setup-timeout 30m] [-ladder BIN] [-out FILE] [-keep]")
		return 2
	}
	ctx, stop := harness.SignalContext()
	defer stop()

	r, err := harness.New("ladderbench", *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ladderbench:", err)
		return 1
	}
	b.Run = r
	res, runErr := b.run(ctx, *bin)
	cleanErr := r.Cleanup(5*time.Minute, harness.Hooks{})
	if !r.Outcome(ctx, runErr, cleanErr) {
		return 1
	}
	md := res.markdown(b)
	fmt.Print(md)
	if err := r.WriteResults(*out, "ladder", md); err != nil {
		r.Logf("%v", err)
		return 1
	}
	return 0
}

// run takes every measurement; any failed check ends it with an error.
func (b *bench) run(ctx context.Context, bin string) (*results, error) {
	res := newResults()
	res.env = environ{Env: b.Environment()}
	if bin == "" {
		b.Logf("building ladder into %s", b.Bin)
	}
	// Bounded, so that a stuck build fails the run instead of hanging it.
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	err := b.InstallLadder(bctx, bin)
	cancel()
	if err != nil {
		return nil, err
	}
	if err := b.promotions(ctx, res); err != nil {
		return nil, err
	}
	res.env.LoadMid = harness.LoadAvg()
	if b.services > 0 {
		if err := b.big(ctx, res); err != nil {
			return nil, err
		}
	}
	res.env.LoadAfter = harness.LoadAvg()
	return res, nil
}

// ladder runs the ladder binary in dir (-C dir) on the process target,
// at most 3 minutes.
func (b *bench) ladder(ctx context.Context, dir string, args ...string) (harness.Result, error) {
	return b.Ladder(ctx, dir, processTarget, args...)
}

// processTarget is the environment every ladder command runs with. The
// generated project's rungs name no target, and "auto" would pick compose
// wherever a Docker engine answers.
var processTarget = []string{"LADDER_TARGET=process"}

// ladderOK is ladder that fails unless the command exits 0.
func (b *bench) ladderOK(ctx context.Context, dir string, args ...string) (harness.Result, error) {
	r, err := b.ladder(ctx, dir, args...)
	if err == nil && r.Code != 0 {
		err = fmt.Errorf("ladder %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, harness.Tail(r.Stdout), harness.Tail(r.Stderr))
	}
	return r, err
}
