// Command upbench measures how long `ladder up` takes on the trading demo
// stack (examples/trading: four Go services) on the process target, and
// compares it with the loop a developer without ladder runs for the same
// work.
//
// Run it from the repository:
//
//	go run ./bench/upbench            # -n 5 cold/changed runs, -warm 15 no-op runs
//	go run ./bench/upbench -n 3 -json # JSON on stdout instead of Markdown
//
// It builds the ladder binary once (go build -o TMP ./cmd/ladder) and
// copies the demo into temp dirs the way the e2e tests do (go.mod and
// go.sum at the top, the stack under examples/trading, never its .ladder
// state), so the repository copy is never touched. Every ladder command
// gets --dashboard 127.0.0.1:0, a free WEB_PORT and LADDER_TARGET=process
// (every up must report the process target). Before measuring it
// runs one ladder cold up and one by-hand cold run that are thrown away,
// so the Go build cache is warm for everything measured. Then:
//
//  1. cold up: a fresh copy with no .ladder, `ladder up -d -o json` until it
//     returns (every service healthy); total wall time, build.buildTime from
//     the JSON, and deploy = total - build; then `ladder down`. -n runs,
//     interleaved with the by-hand cold runs.
//  2. warm up: with the stack running, `ladder up -o json` -warm times; each
//     must report nothing built, every service cached, release 0, nothing
//     changed and the same instances, or upbench fails.
//  3. one service changed: append a comment to services/notifications/main.go
//     and time `ladder up -o json`; it must report only notifications built
//     and changed, with the other services' instance IDs unchanged. -n runs.
//  4. by hand: CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" of each
//     service in turn (as a Makefile or script would), start them with
//     PORT, USERS_URL, TRADES_URL and NOTIFICATIONS_URL on 127.0.0.1 ports
//     in dependency order (users and notifications, then trades, then web),
//     polling each /healthz every 20 ms until 200. Timed cold (clean output
//     dir), no-op (go build of all four, nothing changed) and notifications
//     changed (go build of all four, restart notifications, wait healthy).
//
// It prints median, min, max and N per figure and the ladder/by-hand
// ratios of the medians, and writes the same Markdown to
// bench/results/up-DATE.md. Timings are reported, never asserted; the
// checks above are what make it exit non-zero. Every process it starts is
// stopped at the end, on failure and on Ctrl-C too: `ladder down` in every
// copy, SIGTERM then SIGKILL for the by-hand services, and a final scan of
// /proc for any process whose executable lies under its temp dir.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

// services are the demo's services in the order a Makefile builds them.
var services = []string{"users", "notifications", "trades", "web"}

// changed is the service the one-service-changed runs edit.
const changed = "notifications"

func main() {
	os.Exit(realMain())
}

func realMain() int {
	n := flag.Int("n", 5, "runs of the cold and one-service-changed measurements")
	warm := flag.Int("warm", 15, "runs of the nothing-changed measurements")
	jsonOut := flag.Bool("json", false, "print the results as JSON instead of Markdown")
	out := flag.String("out", "", "results file (default bench/results/up-DATE.md in the module; \"-\" for none)")
	keep := flag.Bool("keep", false, "keep the temp dir (project copies, logs) for inspection")
	flag.Parse()
	if *n < 1 || *warm < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/upbench [-n 5] [-warm 15] [-json] [-out FILE] [-keep]")
		return 2
	}

	// Ctrl-C or SIGTERM cancels the run; the deferred cleanup still runs,
	// and further signals are ignored until it is done (it is bounded).
	ctx, stop := harness.SignalContext()
	defer stop()

	r, err := harness.New("upbench", *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "upbench:", err)
		return 1
	}
	b := &bench{Run: r, n: *n, warm: *warm, procs: map[*proc]bool{}}
	res, runErr := b.run(ctx)
	cleanErr := r.Cleanup(3*time.Minute, harness.Hooks{Before: b.stopProcs})
	if !r.Outcome(ctx, runErr, cleanErr) {
		return 1
	}

	md := res.markdown(*n, *warm)
	if *jsonOut {
		if err := res.writeJSON(os.Stdout, *n, *warm); err != nil {
			r.Logf("%v", err)
			return 1
		}
	} else {
		fmt.Print(md)
	}
	if err := r.WriteResults(*out, "up", md); err != nil {
		r.Logf("%v", err)
		return 1
	}
	return 0
}

// bench is one run of the benchmark and the by-hand processes its
// cleanup must stop; the ladder stacks are tracked by the harness.
type bench struct {
	*harness.Run
	n, warm int

	mu    sync.Mutex
	procs map[*proc]bool
}

// run takes every measurement. Any failed check ends it with an error.
func (b *bench) run(ctx context.Context) (*results, error) {
	res := newResults()
	res.env = b.Environment()
	b.Logf("building ladder into %s", b.Bin)
	if err := b.InstallLadder(ctx, ""); err != nil {
		return nil, err
	}

	b.Logf("warm-up (discarded): one ladder cold up and one by-hand cold run, so the Go build cache is warm")
	if err := b.ladderCold(ctx, "warmup-ladder", nil); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	base, err := b.newBaseline("baseline")
	if err != nil {
		return nil, err
	}
	if err := base.cold(ctx, "warmup", nil); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}

	for i := range b.n {
		b.Logf("cold %d/%d", i+1, b.n)
		if err := b.ladderCold(ctx, fmt.Sprintf("cold-%d", i), res); err != nil {
			return nil, err
		}
		if err := base.cold(ctx, fmt.Sprintf("cold-%d", i), res); err != nil {
			return nil, err
		}
	}
	if err := b.ladderRunning(ctx, res); err != nil {
		return nil, err
	}
	if err := base.running(ctx, res); err != nil {
		return nil, err
	}
	res.env.LoadAfter = harness.LoadAvg()
	return res, nil
}

// stopProcs stops the by-hand services still running, first in cleanup:
// the /proc scan that follows would kill them and report them as left
// behind.
func (b *bench) stopProcs(context.Context) error {
	b.mu.Lock()
	procs := make([]*proc, 0, len(b.procs))
	for p := range b.procs {
		procs = append(procs, p)
	}
	b.mu.Unlock()
	var errs []error
	for _, p := range procs {
		errs = append(errs, b.stopProc(p))
	}
	return errors.Join(errs...)
}
