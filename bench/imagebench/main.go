// Command imagebench measures what pinning third-party images costs: a
// stack of ten `image:` services on the compose target, whose images are
// already in ladder's artifact store.
//
// Run it from the repository:
//
//	go run ./bench/imagebench          # -n 15 runs of each figure
//	go run ./bench/imagebench -out -   # do not write bench/results/
//
// It needs a Docker engine, Debian's docker-registry and a static busybox
// (busybox-static). It builds ladder once into a temp dir, starts a
// registry on a free 127.0.0.1 port (storage in the temp dir), pushes ten
// FROM-scratch busybox images to it (each serving /healthz with
// `busybox httpd`, each with a file of its own so every digest differs),
// and writes a project of ten services `svcN: {image: REG/bench/svcN:1}`
// with a unique stack name. A first `ladder up -d -o json` (untimed) must
// pull all ten. Then, interleaved, -n times each:
//
//  1. snapshot: deploy.MakeSnapshotWith in this process, on the project's
//     own state (its SQLite store and artifact store, opened once), with
//     the options `ladder up` uses (the engine asked for moved tags, the
//     registry checked for them). It must pin all ten from the store,
//     pull nothing, report no moved tag and give the same snapshot. The
//     registry checks run on after it returns (ladder up deploys
//     meanwhile); the time until their answers are in is a second row.
//  2. no-op up: `ladder up -o json` with the stack running under its
//     agent, from exec to exit. It must report the same snapshot, all ten
//     cached, nothing pulled, release 0 and nothing changed; its
//     build.buildTime (the snapshot step inside the command) is reported
//     too. A `ladder --version` after each, for reference, shows what
//     starting the process costs at that moment.
//
// Goals (reported, never asserted): snapshot ≤ 100 ms, no-op up ≤ 150 ms
// (medians). At the end, also on failure or Ctrl-C: `ladder down`, `docker
// rmi` of the images ladder loaded for the stack (<stack>-svcN:ladder-*),
// the registry stopped, and a /proc scan for anything left under the temp
// dir.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/registrytest"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

const services = 10

func main() { os.Exit(realMain()) }

func realMain() int {
	n := flag.Int("n", 15, "runs of each figure")
	out := flag.String("out", "", "results file (default bench/results/image-DATE.md; \"-\" for none)")
	keep := flag.Bool("keep", false, "keep the temp dir for inspection")
	ladderBin := flag.String("ladder", "", "measure this ladder binary instead of building ./cmd/ladder")
	flag.Parse()
	if *n < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/imagebench [-n 15] [-out FILE] [-keep] [-ladder BIN]")
		return 2
	}
	ctx, stop := harness.SignalContext()
	defer stop()
	r, err := harness.New("imagebench", *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagebench:", err)
		return 1
	}
	env := r.Environment()
	stack := fmt.Sprintf("imagebench%d", time.Now().UnixNano()%1_000_000_000)
	var reg *registrytest.Server
	samples := harness.Samples{}
	runErr := measure(ctx, r, *n, stack, *ladderBin, &reg, samples)
	cleanErr := r.Cleanup(2*time.Minute, harness.Hooks{
		After: func(ctx context.Context) error {
			removeImages(ctx, stack)
			if reg != nil {
				reg.Close()
			}
			return nil
		},
	})
	if !r.Outcome(ctx, runErr, cleanErr) {
		return 1
	}
	env.LoadAfter = harness.LoadAvg()
	md := report(env, samples)
	fmt.Print(md)
	if err := r.WriteResults(*out, "image", md); err != nil {
		r.Logf("%v", err)
		return 1
	}
	return 0
}

func measure(ctx context.Context, r *harness.Run, n int, stack, ladderBin string, reg **registrytest.Server, samples harness.Samples) error {
	if err := r.InstallLadder(ctx, ladderBin); err != nil {
		return err
	}
	regDir := filepath.Join(r.Tmp, "registry")
	if err := os.MkdirAll(regDir, 0o755); err != nil {
		return err
	}
	s, err := registrytest.StartServer(regDir, nil)
	if err != nil {
		return err
	}
	*reg = s
	var compose strings.Builder
	compose.WriteString("name: " + stack + "\nservices:\n")
	for i := range services {
		img, err := registrytest.BusyboxImage(map[string]string{"www/index.html": fmt.Sprintf("svc%d", i)})
		if err != nil {
			return err
		}
		ref := fmt.Sprintf("%s/bench/svc%d:1", s.Addr, i)
		if _, err := registrytest.PushImage(ctx, img, ref, nil); err != nil {
			return err
		}
		fmt.Fprintf(&compose, "  svc%d:\n    image: %s\n    ports: [\"8080\"]\n    stop_grace_period: 1s\n    x-ladder: {health: {path: /healthz}}\n", i, ref)
	}
	dir := filepath.Join(r.Tmp, "stack")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ladder.yaml"), []byte("environments:\n  local:\n    target: compose\n    dashboard: 127.0.0.1:0\n"), 0o644); err != nil {
		return err
	}
	envs := []string{"LADDER_TARGET=compose"}
	r.Track(dir, envs, []string{"down"})

	r.Logf("first up: pulling %d images", services)
	args := harness.UpArgs(true)
	res, err := r.Ladder(ctx, dir, envs, args...)
	if err != nil {
		return err
	}
	first, err := parse(res, args)
	if err != nil {
		return err
	}
	if len(first.Build.Pulled) != services {
		return fmt.Errorf("first up pulled %v, want all %d", first.Build.Pulled, services)
	}
	id := first.Snapshot.ID

	p, err := spec.Load(ctx, dir, spec.LoadOptions{})
	if err != nil {
		return err
	}
	stateDir := filepath.Join(dir, ".ladder")
	st, err := sqlite.Open(filepath.Join(stateDir, "ladder.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	docker, err := build.NewDockerClient()
	if err != nil {
		return err
	}
	defer docker.Close()
	b := build.New(build.Options{Store: st, Dir: filepath.Join(stateDir, "artifacts")})
	pin := build.PinOptions{Engine: docker, CheckRegistry: true}

	for i := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		made, err := deploy.MakeSnapshotWith(ctx, p, st, b, stateDir, pin)
		took := time.Since(start)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		moved := made.Report.WaitMoved()
		samples.Add("checks", time.Since(start))
		if made.Snapshot.ID != id || len(made.Report.Cached) != services || len(made.Report.Pulled) != 0 || len(moved) != 0 {
			return fmt.Errorf("snapshot %s: cached %v pulled %v moved %v; want %s with all cached", made.Snapshot.ID, made.Report.Cached, made.Report.Pulled, made.Report.Moved, id)
		}
		samples.Add("snapshot", took)

		args := []string{"up", "-o", "json"}
		res, err := r.Ladder(ctx, dir, envs, args...)
		if err != nil {
			return err
		}
		up, err := parse(res, args)
		if err != nil {
			return err
		}
		if up.Snapshot.ID != id || len(up.Build.Cached) != services || len(up.Build.Pulled) != 0 || up.Deploy.Release != 0 || len(up.Deploy.Changed) != 0 {
			return fmt.Errorf("no-op up did work: snapshot %s cached %d pulled %v release %d changed %v", up.Snapshot.ID, len(up.Build.Cached), up.Build.Pulled, up.Deploy.Release, up.Deploy.Changed)
		}
		samples.Add("noop", res.Took)
		// Reference: what starting the process alone costs right now.
		if v, err := r.Ladder(ctx, dir, envs, "--version"); err == nil && v.Code == 0 {
			samples.Add("version", v.Took)
		}
		samples.Add("noop-build", time.Duration(up.Build.BuildTime))
		r.Logf("run %d/%d: snapshot %s, no-op up %s (its snapshot step %s)", i+1, n, harness.Ms(took), harness.Ms(res.Took), harness.Ms(time.Duration(up.Build.BuildTime)))
	}
	return nil
}

// upJSON is the part of `ladder up -o json` checked here.
type upJSON struct {
	Snapshot struct {
		ID string `json:"id"`
	} `json:"snapshot"`
	Build struct {
		Cached    []string `json:"cached"`
		Pulled    []string `json:"pulled"`
		BuildTime int64    `json:"buildTime"`
	} `json:"build"`
	Deploy struct {
		Release int      `json:"release"`
		Changed []string `json:"changed"`
	} `json:"deploy"`
	Status struct {
		Target string `json:"target"`
	} `json:"status"`
}

func parse(res harness.Result, args []string) (*upJSON, error) {
	what := "ladder " + strings.Join(args, " ")
	if res.Code != 0 {
		return nil, fmt.Errorf("%s: exit %d\n%s%s", what, res.Code, harness.Tail(res.Stdout), harness.Tail(res.Stderr))
	}
	var up upJSON
	if err := json.Unmarshal(res.Stdout, &up); err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", what, err, harness.Tail(res.Stdout))
	}
	if up.Status.Target != "compose" {
		return nil, errors.New(what + ": not on the compose target")
	}
	return &up, nil
}

// removeImages removes the engine tags ladder gave the stack's images.
func removeImages(ctx context.Context, stack string) {
	out, err := exec.CommandContext(ctx, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}").Output()
	if err != nil {
		return
	}
	for _, ref := range strings.Fields(string(out)) {
		if strings.HasPrefix(ref, stack+"-") {
			_ = exec.CommandContext(ctx, "docker", "rmi", ref).Run()
		}
	}
}

func report(env harness.Env, s harness.Samples) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# imagebench: a stack of %d image services already in the artifact store (compose target)\n\n", services)
	fmt.Fprintf(&b, "%s, commit %s, %s, %d CPUs, load %s → %s\n\n", env.Date, env.Commit, env.GoVersion, env.CPUs, env.LoadBefore, env.LoadAfter)
	s.WriteTable(&b, []harness.Row{
		{Key: "snapshot", Name: "snapshot (deploy.MakeSnapshotWith, in process)"},
		{Key: "checks", Name: "… until the registry's answers on moved tags are in (WaitMoved)"},
		{Key: "noop", Name: "no-op `ladder up`, exec to exit"},
		{Key: "noop-build", Name: "… its snapshot step (build.buildTime)"},
		{Key: "version", Name: "reference: `ladder --version` (process start)"},
	}, false)
	fmt.Fprintf(&b, "\nGoals: snapshot ≤ 100 ms: %s; no-op up ≤ 150 ms: %s.\n",
		harness.Verdict(s.Median("snapshot") <= 100*time.Millisecond), harness.Verdict(s.Median("noop") <= 150*time.Millisecond))
	return b.String()
}
