// Command watchbench measures ladder's inner loop, `ladder up --watch`, on
// the trading demo, against the loop a developer runs by hand.
//
//	go run ./bench/watchbench          # -n 7 rounds of each
//	go run ./bench/watchbench -sync=false   # no Docker: the process figures only
//
// Inner loop (process target): the demo's notifications service gets one
// extra file, bench_hook.go, whose handler answers GET /bench with a round
// number. Each round rewrites that file with the next number and times
// from the write until notifications' endpoint answers it:
//
//   - ladder: `ladder up --watch` running; the save is followed, rebuilt
//     into a new snapshot and release, started beside the old instance and
//     switched to once healthy.
//   - by hand, twice: CGO_ENABLED=0 go build of notifications (only the
//     service changed), SIGTERM the old process, start the new binary on
//     the same port, poll /bench every 5 ms. "plain" is `go build -o` as a
//     developer types it (the binary keeps its debug information);
//     "ladder's flags" adds -trimpath -ldflags="-s -w", ladder's own
//     build, so the same compile and link work as ladder's.
//
// Each round's file is new to the go command's build cache in every loop
// (a comment names the run and the loop), so each save is compiled as an
// edit is, never found already compiled.
//
// The rounds alternate between the two, after one discarded round of each
// (the Go build cache is warm for both).
//
// floor: a third copy of notifications, rebuilt each round by the compiler
// and the linker alone, with the command lines a go build -x printed: what
// a save costs any loop that compiles and links this binary.
//
// develop.watch sync (compose target, with -sync): notifications gets a
// develop.watch rule syncing static/ to /static; each round writes
// static/round.txt and times until the engine reports the file in the
// container with the new size (ContainerStatPath, polled every 5 ms).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

const tool = "watchbench"

func main() { os.Exit(realMain()) }

func realMain() int {
	n := flag.Int("n", 7, "measured rounds of each loop")
	doSync := flag.Bool("sync", true, "also measure develop.watch sync into a container (needs Docker)")
	out := flag.String("out", "", "results file (default bench/results/watch-DATE.md; \"-\" for none)")
	keep := flag.Bool("keep", false, "keep the temp dir")
	flag.Parse()
	if *n < 1 {
		return 2
	}
	r, err := harness.New(tool, *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := harness.SignalContext()
	defer stop()
	s := harness.Samples{}
	load0, _ := os.ReadFile("/proc/loadavg")
	b := &bench{r: r, s: s, n: *n}
	runErr := b.run(ctx, *doSync)
	load1, _ := os.ReadFile("/proc/loadavg")
	cleanErr := r.Cleanup(2*time.Minute, harness.Hooks{Before: b.stopByHand})
	if !r.Outcome(ctx, runErr, cleanErr) {
		return 1
	}
	md := b.report(strings.TrimSpace(string(load0)), strings.TrimSpace(string(load1)), *doSync)
	fmt.Print(md)
	if err := r.WriteResults(*out, "watch", md); err != nil {
		r.Logf("%v", err)
		return 1
	}
	return 0
}

type bench struct {
	r     *harness.Run
	s     harness.Samples
	n     int
	hands []*byHand
	// replayed counts the ladder rounds (the discarded one included)
	// that ran the compiler and the linker directly.
	replayed int
}

const (
	keyLadder  = "ladder up --watch: save until the new version serves"
	keyPlain   = "by hand, plain go build: build + kill + start until it serves"
	keyPlainGo = "by hand, plain go build: of which go build"
	keyHand    = "by hand, ladder's flags: build + kill + start until it serves"
	keyBuild   = "by hand, ladder's flags: of which go build"
	keySync    = "develop.watch sync: write until the file is in the container"
	keyFloor   = "floor: the compiler and the linker alone, as go build runs them"
)

// runID makes this run's sources its own: the go command's build cache
// never has a round's compile from an earlier run.
var runID = time.Now().UnixNano()

// hook is the bench file of one round of one loop ("ladder" or "by hand").
// The loops' files differ by a comment, so that neither finds the other's
// compile of the same round in the build cache (with -trimpath, where a
// package is does not enter its cache key): each save is compiled, as an
// edit is.
func hook(loop string, round int) string {
	return fmt.Sprintf(`// watchbench run %d, %s loop
package main

import (
	"net/http"

	"github.com/ladderhq/ladder/examples/trading/internal/service"
)

func benchHook(s *service.Service) {
	s.HandleFunc("GET /bench", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("%d")) })
}
`, runID, loop, round)
}

// prepare copies the demo and adds the hook to notifications.
func (b *bench) prepare(name string) (*harness.Demo, []string, error) {
	d, port, err := harness.OneRungDemo(b.r.Repo, filepath.Join(b.r.Tmp, name))
	if err != nil {
		return nil, nil, err
	}
	main := filepath.Join(d.Dir, "services", "notifications", "main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		return nil, nil, err
	}
	edited := strings.Replace(string(src), "\treturn nil\n}", "\tbenchHook(s)\n\treturn nil\n}", 1)
	if err := os.WriteFile(main, []byte(edited), 0o644); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(d.Dir, "services", "notifications", "bench_hook.go"), []byte(hook(name, 0)), 0o644); err != nil {
		return nil, nil, err
	}
	env := []string{fmt.Sprintf("WEB_PORT=%d", port), fmt.Sprintf("COMPOSE_PROJECT_NAME=watchbench%d", time.Now().UnixNano()%1e9)}
	return d, env, nil
}

func (b *bench) run(ctx context.Context, doSync bool) error {
	b.r.Logf("building ladder")
	if err := b.r.InstallLadder(ctx, ""); err != nil {
		return err
	}
	d, env, err := b.prepare("ladder")
	if err != nil {
		return err
	}
	env = append(env, "LADDER_TARGET=process")
	b.r.Track(d.Dir, env)
	w, err := startWatch(ctx, b.r, d.Dir, env)
	if err != nil {
		return err
	}
	defer w.stop()
	st, err := b.r.Ladder(ctx, d.Dir, env, "status", "-o", "json")
	if err != nil {
		return err
	}
	ladderURL, err := endpointOf(st.Stdout, "notifications")
	if err != nil {
		return err
	}
	plain, err := b.startByHand(ctx, "plain", handPlain)
	if err != nil {
		return err
	}
	hand, err := b.startByHand(ctx, "stripped", handStripped)
	if err != nil {
		return err
	}
	fl, err := b.startFloor(ctx)
	if err != nil {
		return err
	}
	defer fl.close()
	hookLadder := filepath.Join(d.Dir, "services", "notifications", "bench_hook.go")
	for round := 1; round <= b.n+1; round++ {
		t0 := time.Now()
		if err := os.WriteFile(hookLadder, []byte(hook("ladder", round)), 0o644); err != nil {
			return err
		}
		if err := awaitBody(ctx, ladderURL+"/bench", fmt.Sprint(round), time.Minute); err != nil {
			return fmt.Errorf("ladder round %d: %w\n%s", round, err, w.output())
		}
		ladderTook := time.Since(t0)
		plainTook, plainBuild, err := plain.round(ctx, round)
		if err != nil {
			return err
		}
		handTook, buildTook, err := hand.round(ctx, round)
		if err != nil {
			return err
		}
		floorTook, err := fl.round(ctx, round)
		if err != nil {
			return err
		}
		b.r.Logf("round %d: ladder %s, plain %s (build %s), stripped %s (build %s), floor %s", round, ms(ladderTook), ms(plainTook), ms(plainBuild), ms(handTook), ms(buildTook), ms(floorTook))
		if round == 1 {
			continue // warm-up
		}
		b.s.Add(keyLadder, ladderTook)
		b.s.Add(keyPlain, plainTook)
		b.s.Add(keyPlainGo, plainBuild)
		b.s.Add(keyHand, handTook)
		b.s.Add(keyBuild, buildTook)
		b.s.Add(keyFloor, floorTook)
		// Let the old instance's stop finish before the next save.
		time.Sleep(300 * time.Millisecond)
	}
	// -v logs each rebuild the recipe made without the go command.
	b.replayed = strings.Count(w.output(), "replayed the recipe")
	w.stop()
	// ladder's own log (-v: each rebuild's phases) stays with the kept
	// temp dir, for reading where a round went.
	if err := os.WriteFile(filepath.Join(b.r.Tmp, "ladder-watch.log"), []byte(w.output()), 0o644); err != nil {
		return err
	}
	if doSync {
		return b.syncRounds(ctx)
	}
	return nil
}

// endpointOf finds a service's first endpoint in `ladder status -o json`.
func endpointOf(statusJSON []byte, service string) (string, error) {
	i := strings.Index(string(statusJSON), `"name": "`+service+`"`)
	if i < 0 {
		i = strings.Index(string(statusJSON), `"name":"`+service+`"`)
	}
	if i < 0 {
		return "", fmt.Errorf("no %s in status", service)
	}
	rest := string(statusJSON[i:])
	j := strings.Index(rest, "http://127.0.0.1:")
	if j < 0 {
		return "", fmt.Errorf("no endpoint for %s in status", service)
	}
	url := rest[j:]
	return url[:strings.IndexAny(url, "\"")], nil
}

// awaitBody polls url every 5 ms until it answers 200 with body want.
func awaitBody(ctx context.Context, url, want string, limit time.Duration) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if resp, err := c.Get(url); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(body) == want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer %q within %s", url, want, limit)
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func (b *bench) report(load0, load1 string, doSync bool) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# `ladder up --watch` benchmark, %s\n\n", time.Now().UTC().Format(time.RFC3339))
	flags := fmt.Sprintf("-n %d", b.n)
	if !doSync {
		flags += " -sync=false"
	}
	fmt.Fprintf(&sb, "- command: `go run ./bench/watchbench %s`\n", flags)
	fmt.Fprintf(&sb, "- machine: %d CPUs, %s; load average %s before, %s after\n", runtime.NumCPU(), runtime.Version(), load0, load1)
	fmt.Fprintf(&sb, "- one discarded round of each loop first; rounds alternate ladder, plain, stripped, floor; wall times in ms\n\n")
	sb.WriteString("| measurement | median | min | max | N |\n|---|---:|---:|---:|---:|\n")
	keys := []string{keyLadder, keyPlain, keyPlainGo, keyHand, keyBuild, keyFloor}
	if doSync {
		keys = append(keys, keySync)
	}
	for _, k := range keys {
		st := b.s.Stat(k)
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %d |\n", k, harness.Num(st.Median), harness.Num(st.Min), harness.Num(st.Max), st.N)
	}
	l, p, h := b.s.Median(keyLadder), b.s.Median(keyPlain), b.s.Median(keyHand)
	fmt.Fprintf(&sb, "\nladder / by hand, plain go build (medians): %s / %s = %.2f× (target ≤ 0.8×)\n", harness.Num(l), harness.Num(p), float64(l)/float64(p))
	fmt.Fprintf(&sb, "ladder / by hand, ladder's flags (medians): %s / %s = %.2f× (the same compile and link work)\n", harness.Num(l), harness.Num(h), float64(l)/float64(h))
	fl := b.s.Median(keyFloor)
	fmt.Fprintf(&sb, "\nfloor / by hand, ladder's flags (medians): %s / %s = %.2f× (no loop that compiles and links this binary gets below it)\n", harness.Num(fl), harness.Num(h), float64(fl)/float64(h))
	fmt.Fprintf(&sb, "ladder - floor (medians): %s ms (snapshot, image, release, health check and switch)\n", harness.Num(l-fl))
	fmt.Fprintf(&sb, "\nladder rounds rebuilt with the compiler and linker directly (a recipe, no go command): %d of %d\n", b.replayed, b.n+1)
	if doSync {
		fmt.Fprintf(&sb, "\ndevelop.watch sync median: %s ms (target ≤ 300 ms)\n", harness.Num(b.s.Median(keySync)))
	}
	return sb.String()
}
