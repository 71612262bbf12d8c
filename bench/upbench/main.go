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
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	repo, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "upbench:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "upbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "upbench:", err)
		return 1
	}
	b := &bench{repo: repo, tmp: tmp, n: *n, warm: *warm, keep: *keep, procs: map[*proc]bool{}}
	res, runErr := b.run(ctx)
	cleanErr := b.cleanup()
	if runErr != nil {
		if ctx.Err() != nil {
			runErr = fmt.Errorf("interrupted: %w", runErr)
		}
		fmt.Fprintln(os.Stderr, "upbench: FAILED:", runErr)
	}
	if cleanErr != nil {
		fmt.Fprintln(os.Stderr, "upbench: cleanup:", cleanErr)
	}
	if runErr != nil || cleanErr != nil {
		return 1
	}

	md := res.markdown(*n, *warm)
	if *jsonOut {
		if err := res.writeJSON(os.Stdout, *n, *warm); err != nil {
			fmt.Fprintln(os.Stderr, "upbench:", err)
			return 1
		}
	} else {
		fmt.Print(md)
	}
	if *out != "-" {
		path := *out
		if path == "" {
			path = filepath.Join(repo, "bench", "results", "up-"+time.Now().Format("2006-01-02")+".md")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			err = os.WriteFile(path, []byte(md), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "upbench: writing results:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "upbench: wrote", path)
	}
	return 0
}

// bench is one run of the benchmark and everything it must clean up.
type bench struct {
	repo      string // module root of the repository
	tmp       string // everything upbench creates lives here
	ladderBin string
	n, warm   int
	keep      bool

	mu       sync.Mutex
	projects []*project // copies ladder may have started a stack in
	procs    map[*proc]bool
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "upbench: "+format+"\n", args...)
}

// run takes every measurement. Any failed check ends it with an error.
func (b *bench) run(ctx context.Context) (*results, error) {
	res := newResults()
	res.env = environment(b.repo)
	b.ladderBin = filepath.Join(b.tmp, "bin", "ladder")
	b.logf("building ladder into %s", b.ladderBin)
	build := exec.CommandContext(ctx, "go", "build", "-o", b.ladderBin, "./cmd/ladder")
	build.Dir = b.repo
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/ladder: %v\n%s", err, out)
	}

	b.logf("warm-up (discarded): one ladder cold up and one by-hand cold run, so the Go build cache is warm")
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
		b.logf("cold %d/%d", i+1, b.n)
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
	res.env.LoadAfter = loadavg()
	return res, nil
}

// cleanup stops everything run started, whatever state it was left in:
// the by-hand services, then `ladder down` in every copy, then any
// process still running an executable from the temp dir.
func (b *bench) cleanup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var errs []error
	b.mu.Lock()
	procs := make([]*proc, 0, len(b.procs))
	for p := range b.procs {
		procs = append(procs, p)
	}
	projects := append([]*project(nil), b.projects...)
	b.mu.Unlock()
	for _, p := range procs {
		if err := b.stopProc(p); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := os.Stat(b.ladderBin); err == nil {
		for _, p := range projects {
			if _, err := os.Stat(filepath.Join(p.dir, ".ladder")); err != nil {
				continue // ladder never ran here
			}
			r, err := b.ladder(ctx, p, "down")
			if err != nil {
				errs = append(errs, fmt.Errorf("ladder down in %s: %w", p.dir, err))
			} else if r.code != 0 && r.code != exitNotRunning {
				errs = append(errs, fmt.Errorf("ladder down in %s: exit %d: %s", p.dir, r.code, tail(r.stderr)))
			}
		}
	}
	if left := waitGone(b.tmp, 15*time.Second); len(left) > 0 {
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		errs = append(errs, fmt.Errorf("processes still running from %s after cleanup (killed): %v", b.tmp, left))
	}
	if b.keep {
		b.logf("kept %s", b.tmp)
	} else if err := os.RemoveAll(b.tmp); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// moduleRoot is the directory of the ladder module upbench runs in.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not in a Go module: run upbench from the ladder repository")
	}
	root := filepath.Dir(gomod)
	if _, err := os.Stat(filepath.Join(root, "cmd", "ladder")); err != nil {
		return "", fmt.Errorf("%s has no cmd/ladder: run upbench from the ladder repository", root)
	}
	return root, nil
}
