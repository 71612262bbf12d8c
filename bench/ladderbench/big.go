package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

// tinyMain is the one Go main package every generated service builds. It
// never runs (nothing is deployed): it only has to make an image quickly.
const tinyMain = "// Package main is ladderbench's stand-in service: built, never run.\npackage main\n\nfunc main() {}\n"

// secretNames are the secrets set for every generated rung
// (secrets/ENV.names), as internal/parity's benchmark sets them.
var secretNames = []string{"DB_PASSWORD_0", "DB_PASSWORD_1", "DB_PASSWORD_2", "DB_PASSWORD_3", "DB_PASSWORD_4"}

// generated is internal/parity's benchmark project (generated() in
// bench_test.go) with `build: ./svc` instead of an image and ephemeral
// dashboards: n services on 8080 with a few variables, each depending on
// its predecessor; one in ten from tier standard, one in fifty from full.
// Each rung overlays about a tenth of the services with replicas,
// variables and a secret; the last is protected and wants signatures.
func generated(n, envs int) (compose, ladder string) {
	tier := func(i int) string {
		switch {
		case i%50 == 49:
			return "full"
		case i%10 == 9:
			return "standard"
		}
		return ""
	}
	var c strings.Builder
	c.WriteString("name: big\nservices:\n")
	for i := range n {
		fmt.Fprintf(&c, "  s%04d:\n    build: ./svc\n    ports: [\"8080\"]\n", i)
		fmt.Fprintf(&c, "    environment:\n      SERVICE: s%04d\n      LOG_LEVEL: info\n      PEER_URL: http://s%04d:8080\n", i, (i+1)%n)
		if i%10 != 0 && tier(i-1) == "" {
			fmt.Fprintf(&c, "    depends_on: [s%04d]\n", i-1)
		}
		if t := tier(i); t != "" {
			fmt.Fprintf(&c, "    x-ladder: {tier: %s}\n", t)
		}
	}
	var l strings.Builder
	l.WriteString("stack: compose.yaml\nenvironments:\n")
	for e := range envs {
		fmt.Fprintf(&l, "  e%d:\n", e)
		if e > 0 {
			fmt.Fprintf(&l, "    from: e%d\n", e-1)
		}
		if e == envs-1 {
			l.WriteString("    data: real\n    protected: true\n    gates: {signed: true}\n")
		}
		l.WriteString("    dashboard: 127.0.0.1:0\n    values:\n      services:\n")
		for i := e; i < n; i += 10 {
			fmt.Fprintf(&l, "        s%04d:\n          replicas: %d\n", i, 1+e%3)
			fmt.Fprintf(&l, "          environment: {LOG_LEVEL: debug, DB_HOST: db%d.e%d.example.com, FLAG_%d: \"on\"}\n", i%7, e, e)
			fmt.Fprintf(&l, "          secrets: {DB_PASSWORD: DB_PASSWORD_%d}\n", i%5)
		}
	}
	return c.String(), l.String()
}

// writeBig writes the generated project into dir: its own go.mod, the
// tiny main package in svc/, compose.yaml, ladder.yaml, secrets/ENV.names.
func writeBig(dir string, n, envs int) error {
	c, l := generated(n, envs)
	files := map[string]string{
		"go.mod":       "module example.com/ladderbench/big\n\ngo 1.26\n",
		"svc/main.go":  tinyMain,
		"compose.yaml": c,
		"ladder.yaml":  l,
	}
	for e := range envs {
		files[fmt.Sprintf("secrets/e%d.names", e)] = strings.Join(secretNames, "\n") + "\n"
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// makeSnapshot builds every service of the project in dir and records its
// snapshot with ladder's own code: what `ladder up` does before it deploys
// (deploy.MakeSnapshot on the workspace's store and builder), without
// deploying n processes.
func (b *bench) makeSnapshot(ctx context.Context, dir string) (*deploy.Made, error) {
	p, err := spec.Load(ctx, dir, spec.LoadOptions{})
	if err != nil {
		return nil, err
	}
	stateDir := p.Ladder.State
	if !filepath.IsAbs(stateDir) {
		stateDir = filepath.Join(p.Dir, stateDir)
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	st, err := sqlite.Open(filepath.Join(stateDir, "ladder.db"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	done, last := 0, time.Now()
	progress := func(pr build.Progress) {
		if pr.State == build.StateBuilt || pr.State == build.StateCached {
			if done++; done%100 == 0 || time.Since(last) > 30*time.Second {
				b.Logf("  %d/%d services built", done, b.services)
				last = time.Now()
			}
		}
	}
	bl := build.New(build.Options{Store: st, Dir: filepath.Join(stateDir, "artifacts"), Progress: progress})
	return deploy.MakeSnapshot(ctx, p, st, bl, stateDir)
}

// big is part 2: the generated project, its snapshot, then ladder lint and
// ladder diff e1 e9, and the Go benchmarks of internal/parity.
func (b *bench) big(ctx context.Context, res *results) error {
	p := &project{root: filepath.Join(b.Tmp, "big"), envs: nil} // lint and diff start no agent
	p.dir = p.root
	b.register(p)
	b.Logf("part 2: generating %d services x %d environments", b.services, b.envs)
	t0 := time.Now()
	if err := writeBig(p.dir, b.services, b.envs); err != nil {
		return err
	}
	res.Add("b.setup.write", time.Since(t0))
	// ladder's input cache ignores files written less than 2 s before the
	// hash (a racy-mtime guard); a user's sources are older than that.
	time.Sleep(2100 * time.Millisecond)
	b.Logf("setup: building the snapshot of %d services (bounded by %s)", b.services, b.setupTimeout)
	sctx, cancel := context.WithTimeout(ctx, b.setupTimeout)
	t0 = time.Now()
	made, err := b.makeSnapshot(sctx, p.dir)
	cancel()
	if err != nil {
		return fmt.Errorf("building the generated project's snapshot: %w", err)
	}
	res.Add("b.setup.snapshot", time.Since(t0))
	if len(made.Report.Built) != b.services || len(made.Snapshot.Artifacts) != b.services {
		return fmt.Errorf("the generated snapshot built %d and holds %d artifacts, want %d", len(made.Report.Built), len(made.Snapshot.Artifacts), b.services)
	}
	res.bigSnapshot = made.Snapshot.ID
	index, err := os.ReadFile(filepath.Join(p.dir, ".ladder", "artifacts", "index.json"))
	if err != nil {
		return err
	}
	var idx struct {
		Manifests []struct{} `json:"manifests"`
	}
	if err := json.Unmarshal(index, &idx); err != nil {
		return fmt.Errorf("the artifact layout's index.json: %w", err)
	}
	res.bigIndexBytes, res.bigIndexImages = len(index), len(idx.Manifests)
	b.Logf("  snapshot %s in %s", short(made.Snapshot.ID), harness.Ms(time.Since(t0)))

	// Checked once, untimed: the diff is of that snapshot, clean, not empty.
	r, err := b.ladderOK(ctx, p.dir, "diff", "e1", "e9", "-o", "json")
	if err != nil {
		return err
	}
	var dr struct {
		SnapshotA  string     `json:"snapshotA"`
		Lines      []struct{} `json:"lines"`
		Violations int        `json:"violations"`
	}
	if err := decode(r, "ladder diff e1 e9", &dr); err != nil {
		return err
	}
	if dr.SnapshotA != made.Snapshot.ID || dr.Violations != 0 || len(dr.Lines) == 0 {
		return fmt.Errorf("ladder diff e1 e9: snapshot %s, %d lines, %d violations; want %s, some lines, none", short(dr.SnapshotA), len(dr.Lines), dr.Violations, short(made.Snapshot.ID))
	}
	res.diffLines = len(dr.Lines)

	wantLint := fmt.Sprintf("ok: %d environments keep the parity contract (%d services)", b.envs, b.services)
	for i := range b.runs + 1 {
		key := "b.lint"
		if i == 0 {
			key = "b.lint.first"
		}
		r, err := b.ladderOK(ctx, p.dir, "lint")
		if err != nil {
			return err
		}
		if !strings.Contains(string(r.Stdout), wantLint) {
			return fmt.Errorf("ladder lint said %q, want %q", harness.Tail(r.Stdout), wantLint)
		}
		res.Add(key, r.Took)
		if r, err = b.ladderOK(ctx, p.dir, "diff", "e1", "e9"); err != nil {
			return err
		}
		if len(r.Stdout) == 0 {
			return fmt.Errorf("ladder diff e1 e9 printed nothing")
		}
		res.Add(strings.Replace(key, "lint", "diff", 1), r.Took)
		b.Logf("  lint %s, diff %s", harness.Ms(res.Last(key)), harness.Ms(r.Took))
	}
	return b.goBench(ctx, res)
}

var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+(\d+)\s+([\d.]+) ns/op(?:\s+(\d+) B/op\s+(\d+) allocs/op)?`)

// goBench runs internal/parity's Go benchmarks and keeps their output.
func (b *bench) goBench(ctx context.Context, res *results) error {
	b.Logf("go test -run=^$ -bench=. ./internal/parity/")
	r, err := harness.Exec(ctx, b.Repo, nil, 15*time.Minute, "go", "test", "-run=^$", "-bench=.", "./internal/parity/")
	if err == nil && r.Code != 0 {
		err = fmt.Errorf("exit %d\n%s%s", r.Code, harness.Tail(r.Stdout), harness.Tail(r.Stderr))
	}
	if err != nil {
		return fmt.Errorf("go test -bench ./internal/parity/: %w", err)
	}
	res.goBenchRaw = strings.TrimSpace(string(r.Stdout))
	for _, line := range strings.Split(res.goBenchRaw, "\n") {
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(m[3], 64)
		gb := goBenchResult{Name: m[1], Iterations: m[2], NsPerOp: ns, BytesPerOp: m[4], AllocsPerOp: m[5]}
		res.goBench = append(res.goBench, gb)
	}
	if len(res.goBench) == 0 {
		return fmt.Errorf("go test -bench ./internal/parity/ printed no benchmark:\n%s", harness.Tail(r.Stdout))
	}
	return nil
}
