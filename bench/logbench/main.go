// Command logbench measures what a service flooding its output costs the
// ladder agent supervising it on the process target, with log rotation
// and the capture rate bound at their defaults, and what `ladder logs
// --tail` costs on the log it leaves.
//
// Run it from the repository:
//
//	go run ./bench/logbench                 # -window 10s, -windows 3
//	go run ./bench/logbench -out - -keep    # no results file; keep the temp dir
//
// It builds the ladder binary once into a temp dir and writes two
// one-service stacks there, each `build: ./services/S` of a small Go main
// package, on the process target (LADDER_TARGET=process, dashboard on
// 127.0.0.1:0):
//
//   - quiet: prints one line a second (the agent's baseline);
//   - flood: writes 64 KiB blocks of 100-byte lines to stdout as fast as
//     the pipe takes them, and every 100 ms the number of bytes it wrote
//     to a file outside the stack.
//
// For each, `ladder up -d`, 3 s to settle, then -windows windows of
// -window each: the agent's CPU time (utime + stime from /proc/PID/stat,
// in clock ticks of 10 ms) over the window's wall time, as a percentage
// of one core. For flood it also reports the rate it produced, the log
// files' sizes at the end (SERVICE.log and its rotated files; the default
// cap is 3 files of 10 MiB), and `ladder logs flood --tail 100`: wall time
// and peak RSS (getrusage of the child). Figures are reported, never
// asserted. At the end, also on failure or Ctrl-C, every stack is taken
// down and any process left under the temp dir killed and reported.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

const floodMain = `package main

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	line := strings.Repeat("x", 80)
	var block []byte
	for i := 0; len(block) < 64<<10-120; i++ {
		block = fmt.Appendf(block, "flood %012d %s\n", i, line)
	}
	var wrote atomic.Int64
	if stats := os.Getenv("FLOOD_STATS"); stats != "" {
		go func() {
			for range time.Tick(100 * time.Millisecond) {
				_ = os.WriteFile(stats+".tmp", []byte(fmt.Sprint(wrote.Load())), 0o644)
				_ = os.Rename(stats+".tmp", stats)
			}
		}()
	}
	for {
		n, err := os.Stdout.Write(block)
		wrote.Add(int64(n))
		if err != nil {
			os.Exit(1)
		}
	}
}
`

const quietMain = `package main

import (
	"fmt"
	"time"
)

func main() {
	for i := 0; ; i++ {
		fmt.Println("quiet", i)
		time.Sleep(time.Second)
	}
}
`

func main() {
	window := flag.Duration("window", 10*time.Second, "length of one CPU measurement window")
	windows := flag.Int("windows", 3, "measurement windows per stack")
	out := flag.String("out", "", `results file ("" for bench/results/logs-DATE.md, "-" for none)`)
	keep := flag.Bool("keep", false, "keep the temp dir")
	ladderBin := flag.String("ladder", "", "ladder binary to measure (default: go build ./cmd/ladder)")
	flag.Parse()

	r, err := harness.New("logbench", *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "logbench:", err)
		os.Exit(1)
	}
	ctx, stop := harness.SignalContext()
	env := r.Environment()
	md, runErr := run(ctx, r, *ladderBin, *window, *windows, &env)
	cleanErr := r.Cleanup(2*time.Minute, harness.Hooks{})
	stop()
	if runErr == nil {
		fmt.Print(md)
		runErr = r.WriteResults(*out, "logs", md)
	}
	if !r.Outcome(ctx, runErr, cleanErr) {
		os.Exit(1)
	}
}

type measured struct {
	cpu      []float64 // agent CPU, % of one core, per window
	produced float64   // flood: bytes per second written by the service
	files    []string  // flood: log files and sizes
	total    int64
	tailTook time.Duration
	tailRSS  int64 // KiB
}

func run(ctx context.Context, r *harness.Run, bin string, window time.Duration, windows int, env *harness.Env) (string, error) {
	r.Logf("building ladder")
	if err := r.InstallLadder(ctx, bin); err != nil {
		return "", err
	}
	results := map[string]*measured{}
	for _, name := range []string{"quiet", "flood"} {
		m, err := measure(ctx, r, name, window, windows)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		results[name] = m
	}
	env.LoadAfter = harness.LoadAvg()
	return report(results, window, windows, env), nil
}

func measure(ctx context.Context, r *harness.Run, name string, window time.Duration, windows int) (*measured, error) {
	dir := filepath.Join(r.Tmp, name)
	stats := filepath.Join(r.Tmp, name+".stats")
	src := map[string]string{"quiet": quietMain, "flood": floodMain}[name]
	files := map[string]string{
		"go.mod":                        "module " + name + "\n\ngo 1.26\n",
		"services/" + name + "/main.go": src,
		"compose.yaml":                  fmt.Sprintf("services:\n  %s:\n    build: ./services/%s\n    environment:\n      FLOOD_STATS: %s\n", name, name, stats),
		"ladder.yaml":                   "stack: compose.yaml\nenvironments:\n  local:\n    target: process\n",
	}
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	lenv := []string{"LADDER_TARGET=process"}
	r.Track(dir, lenv, []string{"down"})
	r.Logf("%s: ladder up -d", name)
	res, err := r.Ladder(ctx, dir, lenv, "up", "-d", "--dashboard", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if res.Code != 0 {
		return nil, fmt.Errorf("ladder up -d exited %d: %s", res.Code, harness.Tail(res.Stderr))
	}
	var info struct {
		PID int `json:"pid"`
	}
	b, err := os.ReadFile(filepath.Join(dir, ".ladder", "agent-local.json"))
	if err == nil {
		err = json.Unmarshal(b, &info)
	}
	if err != nil || info.PID == 0 {
		return nil, fmt.Errorf("reading the agent's PID: %v", err)
	}
	time.Sleep(3 * time.Second)

	m := &measured{}
	w0, t0 := wrote(stats), time.Now()
	for i := range windows {
		c0, at0 := cpuTicks(info.PID), time.Now()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(window):
		}
		c1, at1 := cpuTicks(info.PID), time.Now()
		if c0 < 0 || c1 < 0 {
			return nil, fmt.Errorf("the agent (pid %d) is gone", info.PID)
		}
		pct := float64(c1-c0) * 10 * float64(time.Millisecond) / float64(at1.Sub(at0)) * 100
		m.cpu = append(m.cpu, pct)
		r.Logf("%s: window %d: agent CPU %.1f%% of one core", name, i+1, pct)
	}
	if name == "flood" {
		m.produced = float64(wrote(stats)-w0) / time.Since(t0).Seconds()
		logs := filepath.Join(dir, ".ladder", "logs", "local", "default")
		entries, _ := os.ReadDir(logs)
		for _, e := range entries {
			if fi, err := e.Info(); err == nil {
				m.files = append(m.files, fmt.Sprintf("%s %.1f MiB", e.Name(), float64(fi.Size())/(1<<20)))
				m.total += fi.Size()
			}
		}
		cmd := exec.CommandContext(ctx, r.Bin, "-C", dir, "logs", "flood", "--tail", "100")
		cmd.Env = append(os.Environ(), lenv...)
		begun := time.Now()
		outb, err := cmd.Output()
		m.tailTook = time.Since(begun)
		if err != nil || strings.Count(string(outb), "\n") != 100 {
			return nil, fmt.Errorf("ladder logs --tail 100: %v (%d lines)", err, strings.Count(string(outb), "\n"))
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			m.tailRSS = ru.Maxrss
		}
	}
	if res, err := r.Ladder(ctx, dir, lenv, "down"); err != nil || res.Code != 0 {
		return nil, fmt.Errorf("ladder down: %v %s", err, harness.Tail(res.Stderr))
	}
	return m, nil
}

// cpuTicks is utime + stime of pid in clock ticks, or -1.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

func wrote(stats string) int64 {
	b, _ := os.ReadFile(stats)
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func report(res map[string]*measured, window time.Duration, windows int, env *harness.Env) string {
	var b strings.Builder
	q, f := res["quiet"], res["flood"]
	fmt.Fprintf(&b, "# logbench %s\n\n", env.Date)
	fmt.Fprintf(&b, "`%s` at %s, %s, %d CPUs, kernel %s; load %s before, %s after.\n\n", env.Command, env.Commit, env.GoVersion, env.CPUs, env.Kernel, env.LoadBefore, env.LoadAfter)
	fmt.Fprintf(&b, "Agent CPU, %% of one core, over %d windows of %s (median, min, max):\n\n", windows, window)
	fmt.Fprintln(&b, "| stack | median | min | max |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	for _, name := range []string{"quiet", "flood"} {
		m := res[name]
		s := append([]float64(nil), m.cpu...)
		sort.Float64s(s)
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %.1f |\n", name, median(m.cpu), s[0], s[len(s)-1])
	}
	fmt.Fprintf(&b, "\nFlooding service: wrote %.0f MiB/s; the agent's CPU above the quiet baseline: %.1f%% of one core (goal: under 10%%).\n", f.produced/(1<<20), median(f.cpu)-median(q.cpu))
	fmt.Fprintf(&b, "Log files at the end: %s (%.1f MiB in all; cap 3 x 10 MiB).\n", strings.Join(f.files, ", "), float64(f.total)/(1<<20))
	fmt.Fprintf(&b, "`ladder logs flood --tail 100`: %s, peak RSS %.1f MiB.\n", f.tailTook.Round(time.Millisecond), float64(f.tailRSS)/1024)
	return b.String()
}
