// Command servebench measures `ladder serve` tracking a fleet: -sites
// (500) sites of -services (20) services each, 10,000 services, in one
// environment, and its API under a bounded load from 127.0.0.1.
//
// Run it from the repository:
//
//	go run ./bench/servebench                     # 500 sites x 20 services, 500 req/s for 20 s per route
//	go run ./bench/servebench -sites 50 -d 5s     # a quick pass
//	go run ./bench/servebench -out - -keep        # no results file; keep the temp dir
//
// The sites run on a target that runs nothing (record.go): a deploy
// records the instances it asks for, running at once, and observing a site
// reads them back, so the machine holds no 10,000 processes and what is
// measured is ladder's side. The engine is ladder's own code (the cli
// package, `ladder serve --listen`) in a child process of this program,
// with the process kind replaced by that target; everything else (the
// SQLite store, the engine, the environment's agent, tokens, the API) is
// what a team's server runs.
//
//  1. Setup: a generated project (every service `build: ./app` of one
//     tiny Go main), a viewer token, `ladder serve --listen`, then `ladder
//     up -d`, timed: it builds the services, makes the snapshot and the
//     engine deploys it to every site.
//  2. For each route, -rate requests per second for -d from a fixed
//     schedule (open loop: a request's latency counts from when it was
//     due, so a slow server cannot hide its queue), at most -conns in
//     flight: GET /v1/engine, GET /v1/envs/fleet/releases?limit=50 (a
//     page of history), GET /v1/envs/fleet/events?limit=50 (the newest
//     events) and the three in turn. The environment's whole
//     status (every site and service) is measured on its own, -status-n
//     requests one after another: it is what a dashboard polls, not what
//     500 clients a second ask.
//  3. The engine's resident memory (VmRSS, and VmHWM its peak) after the
//     deploy and after the load.
//
// There is nothing to compare with on the same machine: the tools a team
// would otherwise run for a fleet (Argo CD, Spinnaker) need a registry
// and a cluster this machine cannot reach. The figures stand against the
// goals instead: p99 <= 50 ms at 500 requests/s, RSS <= 500 MB.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
	"github.com/ladderhq/ladder/internal/cli"
	"github.com/ladderhq/ladder/internal/target"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ladder" {
		os.Exit(ladder(os.Args[2:]))
	}
	os.Exit(run())
}

// ladder runs ladder's command line with the record target in place of
// the process kind: the engine, and the commands that build for it.
func ladder(args []string) int {
	ctx, stop := harness.SignalContext()
	defer stop()
	if path := os.Getenv("SERVEBENCH_CPUPROFILE"); path != "" && len(args) > 0 && args[0] == "serve" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	root := cli.New(cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Kinds: []target.Kind{recordKind(newRecordTarget())}})
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		return cli.Code(err)
	}
	return 0
}

type options struct {
	sites, services int
	rate            int
	dur             time.Duration
	conns           int
	statusN         int
	out             string
	cpuprofile      string
	keep            bool
}

func run() int {
	var o options
	flag.IntVar(&o.sites, "sites", 500, "sites in the environment")
	flag.IntVar(&o.services, "services", 20, "services in the stack (each runs on every site)")
	flag.IntVar(&o.rate, "rate", 500, "requests per second per route")
	flag.DurationVar(&o.dur, "d", 20*time.Second, "how long each route is loaded")
	flag.IntVar(&o.conns, "conns", 64, "requests in flight at most")
	flag.IntVar(&o.statusN, "status-n", 10, "whole-environment status requests, one after another")
	flag.StringVar(&o.out, "out", "", "results file (default bench/results/serve-DATE.md; - for none)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write the engine's CPU profile (go tool pprof) to this file")
	flag.Parse()
	if o.sites < 1 || o.sites > 5000 || o.services < 1 || o.services > 200 || o.rate < 1 || o.rate > 5000 ||
		o.dur <= 0 || o.dur > 5*time.Minute || o.conns < 1 || o.conns > 1024 || o.statusN < 0 || o.statusN > 1000 {
		fmt.Fprintln(os.Stderr, "servebench: -sites 1..5000, -services 1..200, -rate 1..5000, -d up to 5m, -conns 1..1024, -status-n 0..1000")
		return 2
	}
	ctx, stop := harness.SignalContext()
	defer stop()
	r, err := harness.New("servebench", o.keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "servebench:", err)
		return 1
	}
	env := r.Environment()
	b := &bench{r: r, o: o}
	rep, runErr := b.run(ctx)
	cleanErr := b.cleanup()
	if !r.Outcome(ctx, runErr, cleanErr) {
		return 1
	}
	env.LoadAfter = harness.LoadAvg()
	md := rep.markdown(o, env)
	fmt.Print(md)
	if err := r.WriteResults(o.out, "serve", md); err != nil {
		fmt.Fprintln(os.Stderr, "servebench:", err)
		return 1
	}
	return 0
}

type bench struct {
	r      *harness.Run
	o      options
	self   string // this program, copied into the run's temp dir
	proj   string
	serve  *exec.Cmd
	logBuf *harness.Output
}

// report is what a run measured.
type report struct {
	setup     time.Duration
	tracked   int // services the engine's status reports
	routes    []routeResult
	status    []time.Duration
	statusLen int
	rssDeploy memory
	rssLoad   memory
}

type memory struct{ rss, hwm int64 } // KiB

func (b *bench) run(ctx context.Context) (*report, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b.self = filepath.Join(b.r.Tmp, "bin", "servebench")
	if err := os.MkdirAll(filepath.Dir(b.self), 0o755); err != nil {
		return nil, err
	}
	if err := harness.CopyFile(exe, b.self); err != nil {
		return nil, err
	}
	if err := os.Chmod(b.self, 0o755); err != nil {
		return nil, err
	}
	b.proj = filepath.Join(b.r.Tmp, "fleet")
	if err := writeProject(b.proj, b.o.sites, b.o.services); err != nil {
		return nil, err
	}
	b.r.Logf("project: %d sites x %d services in %s", b.o.sites, b.o.services, b.proj)

	// The store's first token is its admin; the benchmark reads with a
	// viewer's, as a dashboard or a script would.
	if _, err := b.ladder(ctx, time.Minute, "token", "create", "admin", "--role", "admin", "-o", "json"); err != nil {
		return nil, err
	}
	out, err := b.ladder(ctx, time.Minute, "token", "create", "bench", "--role", "viewer:*", "-o", "json")
	if err != nil {
		return nil, err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(out, &tok); err != nil || tok.Token == "" {
		return nil, fmt.Errorf("token create printed no token: %v\n%s", err, out)
	}

	port, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	server := fmt.Sprintf("http://127.0.0.1:%d", port)
	b.logBuf = &harness.Output{}
	b.serve = exec.Command(b.self, "ladder", "serve", "-C", b.proj, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	b.serve.Env = os.Environ()
	if b.o.cpuprofile != "" {
		abs, err := filepath.Abs(b.o.cpuprofile)
		if err != nil {
			return nil, err
		}
		b.serve.Env = append(b.serve.Env, "SERVEBENCH_CPUPROFILE="+abs)
	}
	b.serve.Stdout, b.serve.Stderr = b.logBuf, b.logBuf
	if err := b.serve.Start(); err != nil {
		return nil, err
	}
	c := &client{base: server, token: tok.Token, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: b.o.conns, MaxIdleConnsPerHost: b.o.conns},
	}}
	if err := waitFor(ctx, time.Minute, func() bool {
		code, _, err := c.get(ctx, "/healthz")
		return err == nil && code == 200
	}); err != nil {
		return nil, fmt.Errorf("ladder serve did not answer: %v\n%s", err, b.logBuf.String())
	}

	rep := &report{}
	b.r.Logf("ladder up -d: build, snapshot, deploy to %d sites", b.o.sites)
	start := time.Now()
	if _, err := b.ladder(ctx, 20*time.Minute, "up", "-d", "-o", "json"); err != nil {
		return nil, err
	}
	rep.setup = time.Since(start)
	b.r.Logf("deployed in %s", rep.setup.Round(time.Millisecond))

	// The engine tracks every service: its status says so.
	code, body, err := c.get(ctx, "/v1/envs/fleet/status")
	if err != nil || code != 200 {
		return nil, fmt.Errorf("status: %d %v %s", code, err, harness.Tail(body))
	}
	rep.tracked, err = countServices(body)
	if err != nil {
		return nil, err
	}
	if want := b.o.sites * b.o.services; rep.tracked != want {
		return nil, fmt.Errorf("the engine's status reports %d services, want %d", rep.tracked, want)
	}
	if rep.rssDeploy, err = rss(b.serve.Process.Pid); err != nil {
		return nil, err
	}

	routes := []struct {
		name  string
		paths []string
	}{
		{"GET /v1/engine", []string{"/v1/engine"}},
		{"GET /v1/envs/fleet/releases?limit=50", []string{"/v1/envs/fleet/releases?limit=50"}},
		{"GET /v1/envs/fleet/events?limit=50", []string{"/v1/envs/fleet/events?limit=50"}},
		{"all three, in turn", []string{"/v1/engine", "/v1/envs/fleet/releases?limit=50", "/v1/envs/fleet/events?limit=50"}},
	}
	for _, rt := range routes {
		b.r.Logf("%s: %d req/s for %s", rt.name, b.o.rate, b.o.dur)
		res, err := load(ctx, c, rt.paths, b.o.rate, b.o.dur, b.o.conns)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rt.name, err)
		}
		res.name = rt.name
		rep.routes = append(rep.routes, res)
	}
	b.r.Logf("whole status: %d requests", b.o.statusN)
	for range b.o.statusN {
		t0 := time.Now()
		code, body, err := c.get(ctx, "/v1/envs/fleet/status")
		if err != nil || code != 200 {
			return nil, fmt.Errorf("status: %d %v", code, err)
		}
		rep.status = append(rep.status, time.Since(t0))
		rep.statusLen = len(body)
	}
	if rep.rssLoad, err = rss(b.serve.Process.Pid); err != nil {
		return nil, err
	}
	return rep, nil
}

// ladder runs this program's ladder in the project, bounded by limit.
func (b *bench) ladder(ctx context.Context, limit time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.self, append([]string{"ladder", "-C", b.proj}, args...)...)
	cmd.Env = os.Environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ladder %s: %v\n%s%s", strings.Join(args, " "), err, harness.Tail(out.Bytes()), harness.Tail(errb.Bytes()))
	}
	return out.Bytes(), nil
}

// cleanup takes the fleet down and stops the engine.
func (b *bench) cleanup() error {
	var errs []error
	if b.serve != nil && b.serve.Process != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if _, err := b.ladder(ctx, 2*time.Minute, "down", "--all"); err != nil {
			errs = append(errs, err)
		}
		cancel()
		_ = b.serve.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- b.serve.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = b.serve.Process.Kill()
			<-done
			errs = append(errs, errors.New("ladder serve did not stop within 30 s of SIGTERM"))
		}
	}
	if left := harness.WaitGone(b.r.Tmp, 10*time.Second); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes left under %s: %v", b.r.Tmp, left))
	}
	if !b.r.Keep {
		if err := os.RemoveAll(b.r.Tmp); err != nil {
			errs = append(errs, err)
		}
	} else {
		b.r.Logf("kept %s", b.r.Tmp)
	}
	return errors.Join(errs...)
}

// writeProject writes the fleet's project: one tiny Go main built as
// every service, and one environment of sites.
func writeProject(dir string, sites, services int) error {
	files := map[string]string{
		"go.mod":      "module fleet\n\ngo 1.26\n",
		"app/main.go": "package main\n\nfunc main() { select {} }\n",
	}
	var compose strings.Builder
	compose.WriteString("services:\n")
	for i := 1; i <= services; i++ {
		fmt.Fprintf(&compose, "  svc-%03d:\n    build: ./app\n", i)
	}
	files["compose.yaml"] = compose.String()
	var ly strings.Builder
	ly.WriteString("stack: compose.yaml\nenvironments:\n  fleet:\n    target: process\n    dashboard: 127.0.0.1:0\n    sites:\n")
	for i := 1; i <= sites; i++ {
		fmt.Fprintf(&ly, "      - name: site-%04d\n", i)
	}
	files["ladder.yaml"] = ly.String()
	return harness.WriteTree(dir, files)
}

// countServices counts the services of every site in a status answer.
func countServices(body []byte) (int, error) {
	var st struct {
		Sites []struct {
			Services []json.RawMessage `json:"services"`
		} `json:"sites"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return 0, fmt.Errorf("status: %w", err)
	}
	n := 0
	for _, s := range st.Sites {
		n += len(s.Services)
	}
	return n, nil
}

// rss reads a process's resident set and its peak, in KiB.
func rss(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			m.rss = v
		case "VmHWM:":
			m.hwm = v
		}
	}
	return m, nil
}

func waitFor(ctx context.Context, limit time.Duration, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// client reads the engine's API with a token.
type client struct {
	base, token string
	http        *http.Client
}

func (c *client) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	return resp.StatusCode, body, err
}

// routeResult is one route's load.
type routeResult struct {
	name      string
	sent, ok  int
	late      int // requests that waited for a free connection slot
	latencies []time.Duration
	elapsed   time.Duration
}

// load sends rate requests a second for dur, cycling through paths, at
// most conns in flight. A request's latency counts from when the schedule
// said to send it. Every answer must be 200.
func load(ctx context.Context, c *client, paths []string, rate int, dur time.Duration, conns int) (routeResult, error) {
	total := int(int64(rate) * int64(dur) / int64(time.Second))
	interval := time.Second / time.Duration(rate)
	slots := make(chan struct{}, conns)
	var mu sync.Mutex
	res := routeResult{latencies: make([]time.Duration, 0, total)}
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(d):
			}
		}
		select {
		case slots <- struct{}{}:
		default:
			mu.Lock()
			res.late++
			mu.Unlock()
			slots <- struct{}{}
		}
		res.sent++
		wg.Go(func() {
			defer func() { <-slots }()
			code, _, err := c.get(ctx, paths[i%len(paths)])
			lat := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if err == nil && code != 200 {
				err = fmt.Errorf("HTTP %d", code)
			}
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			res.ok++
			res.latencies = append(res.latencies, lat)
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res, firstErr
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func (rep *report) markdown(o options, env harness.Env) string {
	var w strings.Builder
	fmt.Fprintf(&w, "# servebench %s\n\n", env.Date[:10])
	fmt.Fprintf(&w, "`%s` on %d CPUs, %s, commit %s; load average before %s, after %s.\n\n",
		env.Command, env.CPUs, env.GoVersion, env.Commit, env.LoadBefore, env.LoadAfter)
	fmt.Fprintf(&w, "`ladder serve --listen` tracking %d sites x %d services = **%d services** (its status reports %d), on a target that records (bench/servebench/record.go); SQLite store.\n\n",
		o.sites, o.services, o.sites*o.services, rep.tracked)
	fmt.Fprintf(&w, "Setup (`ladder up -d`: build %d services, snapshot, deploy to %d sites): %s.\n\n", o.services, o.sites, rep.setup.Round(time.Millisecond))
	fmt.Fprintf(&w, "| route (%d req/s for %s, open loop, at most %d in flight) | sent | ok | achieved req/s | p50 | p90 | p99 | max | waited for a slot |\n|---|---|---|---|---|---|---|---|---|\n", o.rate, o.dur, o.conns)
	for _, r := range rep.routes {
		l := slices.Clone(r.latencies)
		slices.Sort(l)
		fmt.Fprintf(&w, "| %s | %d | %d | %.0f | %s | %s | %s | %s | %d |\n", r.name, r.sent, r.ok, float64(r.ok)/r.elapsed.Seconds(),
			ms(percentile(l, 0.5)), ms(percentile(l, 0.9)), ms(percentile(l, 0.99)), ms(percentile(l, 1)), r.late)
	}
	if len(rep.status) > 0 {
		l := slices.Clone(rep.status)
		slices.Sort(l)
		fmt.Fprintf(&w, "\nThe whole environment's status (`GET /v1/envs/fleet/status`, %d sites, %d services, %.1f MB of JSON), %d requests one after another: median %s, min %s, max %s.\n",
			o.sites, rep.tracked, float64(rep.statusLen)/1e6, len(l), ms(percentile(l, 0.5)), ms(l[0]), ms(l[len(l)-1]))
	}
	fmt.Fprintf(&w, "\nThe engine's memory: after the deploy RSS %.0f MB (peak %.0f MB); after the load RSS %.0f MB (peak %.0f MB).\n",
		float64(rep.rssDeploy.rss)/1024, float64(rep.rssDeploy.hwm)/1024, float64(rep.rssLoad.rss)/1024, float64(rep.rssLoad.hwm)/1024)
	return w.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
