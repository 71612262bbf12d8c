// Command loadbench measures what hostile compose.yaml and ladder.yaml
// files cost `ladder validate`: wall time and peak memory (the process's
// maximum resident set) on YAML alias bombs, a file at the size bound, a
// deeply nested one and a ladder of 8,000 rungs. Each must end in well
// under a second and 100 MB, as a config error (exit 2) or, for the long
// ladder, as a valid project.
//
// Run it from the repository:
//
//	go run ./bench/loadbench                 # -n 5 runs per input
//	go run ./bench/loadbench -out -          # do not write bench/results/
//	go run ./bench/loadbench -ladder BIN     # measure another ladder binary (an older one, say)
//
// Each run is `ladder -C DIR validate` in a fresh process, so the peak
// memory is the whole process's, read from its rusage. A run is stopped
// (SIGKILL) when it passes -limit or its resident set passes -max-rss,
// polled every 20 ms, so that measuring an unprotected binary cannot
// exhaust the machine; such a run is reported as stopped. Figures are
// reported, never asserted: loadbench exits 1 only when an input could
// not be run at all.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

// input is one project to validate.
type input struct {
	name  string
	files map[string]string
	what  string // what the file is, for the report
}

// bomb is a "billion laughs" list: level i is width aliases to level i-1.
func bomb(width, depth int, indent string) string {
	var b strings.Builder
	list := func(item string) string { return "[" + strings.TrimSuffix(strings.Repeat(item+",", width), ",") + "]" }
	fmt.Fprintf(&b, "%sx-a0: &a0 %s\n", indent, list("x"))
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "%sx-a%d: &a%d %s\n", indent, i, i, list(fmt.Sprintf("*a%d", i-1)))
	}
	return b.String()
}

const service = "services:\n  web:\n    image: nginx\n"

func inputs() []input {
	var ins []input
	for _, depth := range []int{4, 5, 6, 8} {
		c := bomb(9, depth, "") + service + fmt.Sprintf("    x-bomb: *a%d\n", depth)
		ins = append(ins, input{fmt.Sprintf("compose alias bomb, depth %d", depth), map[string]string{"compose.yaml": c},
			fmt.Sprintf("%d bytes, stands for %s nodes", len(c), expanded(9, depth))})
	}
	l := "x:\n" + bomb(9, 8, "  ") + "environments:\n  local:\n    values: {services: {web: {environment: {A: *a8}}}}\n"
	ins = append(ins, input{"ladder alias bomb, depth 8", map[string]string{"compose.yaml": service, "ladder.yaml": l},
		fmt.Sprintf("%d bytes, stands for %s nodes", len(l), expanded(9, 8))})

	dense := service + "x-long: [" + strings.TrimSuffix(strings.Repeat("1,", 1<<20-40), ",") + "]\n"
	ins = append(ins, input{"2 MiB of list items", map[string]string{"compose.yaml": dense},
		fmt.Sprintf("%d bytes, about 1,000,000 nodes, no alias", len(dense))})
	under := service + "x-long: [" + strings.TrimSuffix(strings.Repeat("1,", 95_000), ",") + "]\n"
	ins = append(ins, input{"95,000 list items", map[string]string{"compose.yaml": under},
		fmt.Sprintf("%d bytes, just under the node budget, valid", len(under))})
	deep := service + "    x-deep: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n"
	ins = append(ins, input{"nesting 5,000 deep", map[string]string{"compose.yaml": deep}, fmt.Sprintf("%d bytes", len(deep))})

	var b strings.Builder
	b.WriteString("environments:\n")
	for i := range 8000 {
		fmt.Fprintf(&b, "  e%d:\n    data: seeded\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "    from: e%d\n", i-1)
		}
	}
	ins = append(ins, input{"8,000 rungs, a from: chain", map[string]string{"compose.yaml": service, "ladder.yaml": b.String()},
		fmt.Sprintf("%d bytes, valid", b.Len())})
	return ins
}

// expanded is how many nodes a bomb of width and depth stands for.
func expanded(width, depth int) string {
	n, level := 0, 1
	for range depth + 2 {
		n += level
		level *= width
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// sample is one run.
type sample struct {
	took    time.Duration
	rssKB   int64
	code    int
	stopped string // why it was killed, if it was
	line    string // the first line of the error
}

func main() { os.Exit(run()) }

func run() int {
	n := flag.Int("n", 5, "runs per input")
	limit := flag.Duration("limit", 20*time.Second, "stop a run after this long")
	maxRSS := flag.Int64("max-rss", 1024, "stop a run whose resident set passes this many MB")
	out := flag.String("out", "", `results file (default bench/results/load-DATE.md; "-" for none)`)
	bin := flag.String("ladder", "", "ladder binary to measure (default: go build ./cmd/ladder)")
	keep := flag.Bool("keep", false, "keep the temp dir")
	flag.Parse()

	ctx, stop := harness.SignalContext()
	defer stop()
	r, err := harness.New("loadbench", *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		return 1
	}
	var md string
	runErr := func() error {
		if err := r.InstallLadder(ctx, *bin); err != nil {
			return err
		}
		var rows []string
		for i, in := range inputs() {
			dir := filepath.Join(r.Tmp, fmt.Sprintf("in%d", i))
			for name, data := range in.files {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					return err
				}
			}
			var ss []sample
			for range *n {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s, err := measure(ctx, r.Bin, dir, *limit, *maxRSS<<10)
				if err != nil {
					return fmt.Errorf("%s: %w", in.name, err)
				}
				ss = append(ss, s)
			}
			r.Logf("%s: %s", in.name, row(in, ss))
			rows = append(rows, row(in, ss))
		}
		md = report(rows, *n, *bin)
		return nil
	}()
	cleanErr := r.Cleanup(time.Minute, harness.Hooks{})
	if !r.Outcome(ctx, runErr, cleanErr) {
		return 1
	}
	fmt.Print(md)
	if err := r.WriteResults(*out, "load", md); err != nil {
		r.Logf("%v", err)
		return 1
	}
	return 0
}

// measure runs `ladder -C dir validate` once.
func measure(ctx context.Context, bin, dir string, limit time.Duration, maxKB int64) (sample, error) {
	cmd := exec.CommandContext(ctx, bin, "-C", dir, "validate")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	begun := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var s sample
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-tick.C:
			switch {
			case time.Since(begun) > limit:
				s.stopped = "past " + limit.String()
			case rssKB(cmd.Process.Pid) > maxKB:
				s.stopped = fmt.Sprintf("past %d MB", maxKB>>10)
			default:
				continue
			}
			_ = cmd.Process.Kill()
			err = <-done
			break wait
		}
	}
	s.took = time.Since(begun)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.rssKB = ru.Maxrss
	}
	s.code = cmd.ProcessState.ExitCode()
	if err != nil && s.code < 0 && s.stopped == "" {
		return s, err
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	s.line = strings.TrimSpace(lines[len(lines)-1])
	return s, nil
}

// rssKB is the current resident set of pid, from /proc.
func rssKB(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

func row(in input, ss []sample) string {
	var took []time.Duration
	var rss []int64
	codes, stopped := map[int]bool{}, ""
	for _, s := range ss {
		took = append(took, s.took)
		rss = append(rss, s.rssKB)
		codes[s.code] = true
		if s.stopped != "" {
			stopped = s.stopped
		}
	}
	med, lo, hi := harness.Summary(took)
	maxRSS := slices.Max(rss)
	var cs []string
	for c := range codes {
		cs = append(cs, strconv.Itoa(c))
	}
	slices.Sort(cs)
	outcome := "exit " + strings.Join(cs, ",")
	if stopped != "" {
		outcome = "stopped " + stopped
	}
	line := ss[len(ss)-1].line
	if len(line) > 110 {
		line = line[:110] + "…"
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %d | %s | %s |", in.name, in.what, harness.Num(med), harness.Num(lo), harness.Num(hi),
		maxRSS>>10, outcome, strings.ReplaceAll(line, "|", `\|`))
}

func report(rows []string, n int, bin string) string {
	var b strings.Builder
	b.WriteString("# ladder validate on hostile inputs\n\n")
	fmt.Fprintf(&b, "%s, %s/%s, %d CPUs; load averages at the end: %s. ", time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadavg())
	what := "ladder built from the working tree"
	if bin != "" {
		what = "ladder binary " + bin
	}
	fmt.Fprintf(&b, "%s; %d runs per input, each `ladder -C DIR validate` in a fresh process.\n\n", what, n)
	b.WriteString("Goal: every input under 1 s and 100 MB (peak RSS). Times in ms (median, min, max); peak RSS is the largest of the runs.\n\n")
	b.WriteString("| input | file | median ms | min | max | peak RSS MB | outcome | last line of stderr |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	return b.String()
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
