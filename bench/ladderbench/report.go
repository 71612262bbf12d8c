package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Goals, reported and never asserted.
const (
	overheadGoal = 50 * time.Millisecond
	lintDiffGoal = time.Second
)

type goBenchResult struct {
	Name, Iterations        string
	NsPerOp                 float64
	BytesPerOp, AllocsPerOp string
}

type results struct {
	samples     map[string][]time.Duration
	env         environ
	s1, s2      string
	notes       []string // the zero-build checks
	bigSnapshot string
	diffLines   int
	// The generated project's OCI layout index: every image lookup reads it.
	bigIndexBytes, bigIndexImages int
	goBench                       []goBenchResult
	goBenchRaw                    string
}

func newResults() *results { return &results{samples: map[string][]time.Duration{}} }

func (r *results) add(key string, d time.Duration) { r.samples[key] = append(r.samples[key], d) }

func (r *results) last(key string) time.Duration {
	s := r.samples[key]
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

type stat struct {
	n                   int
	median, least, most time.Duration
}

func (r *results) stat(key string) stat {
	s := slices.Clone(r.samples[key])
	if len(s) == 0 {
		return stat{}
	}
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{n: len(s), median: m, least: s[0], most: s[len(s)-1]}
}

func (r *results) median(key string) time.Duration { return r.stat(key).median }

// environ is where and how the figures were taken.
type environ struct {
	Date, Command, Commit, GoVersion, Kernel string
	CPUs                                     int
	LoadBefore, LoadMid, LoadAfter           string
}

func environment(repo string) environ {
	e := environ{
		Date:       time.Now().Format(time.RFC3339),
		Command:    strings.TrimSpace("go run ./bench/ladderbench " + strings.Join(os.Args[1:], " ")),
		CPUs:       runtime.NumCPU(),
		LoadBefore: loadavg(),
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		e.GoVersion = strings.TrimSpace(string(out))
	}
	// rev-parse only reads: other people work in this checkout.
	git := exec.Command("git", "rev-parse", "--short", "HEAD")
	git.Dir = repo
	if out, err := git.Output(); err == nil {
		e.Commit = strings.TrimSpace(string(out)) + " (plus any uncommitted changes)"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(b))
	}
	return e
}

// loadavg is the 1, 5 and 15 minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ms formats a duration for progress lines and prose.
func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", msf(d)) }

func num(d time.Duration) string { return fmt.Sprintf("%.0f", msf(d)) }

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// row is one line of a results table.
type row struct{ key, name, command string }

func (r *results) table(b *strings.Builder, rows []row) {
	fmt.Fprintf(b, "| measurement | command | median | min | max | N |\n|---|---|---:|---:|---:|---:|\n")
	for _, x := range rows {
		st := r.stat(x.key)
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %d |\n", x.name, x.command, num(st.median), num(st.least), num(st.most), st.n)
	}
}

func (r *results) markdown(bn *bench) string {
	var b strings.Builder
	e := r.env
	fmt.Fprintf(&b, "# Environment ladder benchmark, %s\n\n", e.Date)
	fmt.Fprintf(&b, "- command: `%s` (part 1 N=%d each way, part 2 N=%d, part 3 N=%d)\n", e.Command, bn.n, bn.runs, bn.rollbacks)
	fmt.Fprintf(&b, "- ladder: commit %s, process target (`LADDER_TARGET=process`), trading demo copy with a four-rung ladder (local, dev, staging, prod)\n", e.Commit)
	fmt.Fprintf(&b, "- machine: %d CPUs, Linux %s, %s\n", e.CPUs, e.Kernel, e.GoVersion)
	fmt.Fprintf(&b, "- load average (1, 5, 15 min): %s before, %s after parts 1 and 3, %s after part 2\n", e.LoadBefore, e.LoadMid, e.LoadAfter)
	fmt.Fprintf(&b, "- wall times in ms from exec to exit; a noisy shared machine: compare medians and ratios, not single runs\n\n")

	p, d := "`ladder promote S --to dev -o json`", "`ladder rollback dev --to S -o json`"
	fmt.Fprintf(&b, "## 1. Promotion overhead beyond the deploy\n\n")
	fmt.Fprintf(&b, "S1 = `%s`, S2 = `%s`: the same four artifacts, S2 adds one environment value to web, so each deploy replaces web only and nothing is built. Dev alternates S1 and S2; promotions and direct deploys are interleaved (promote, direct, direct, promote, …) so each path deploys both ways. Before each promotion `ladder rollback local --to S` (untimed) makes S local's current release, which dev's previous-rung gate requires.\n\n", short(r.s1), short(r.s2))
	r.table(&b, []row{
		{"p.promote", "promote: wall", p},
		{"p.promote.deploy", "promote: `deploy.duration`", "(from its JSON)"},
		{"p.promote.overhead", "**promote: overhead** (wall − `deploy.duration`)", ""},
		{"p.direct", "direct deploy, no gates: wall", d},
		{"p.direct.deploy", "direct: `deploy.duration`", "(from its JSON)"},
		{"p.direct.overhead", "direct: overhead (wall − `deploy.duration`)", ""},
		{"p.history", "reference: process start + spec load + SQLite open + one query", "`ladder history dev -o json`"},
		{"p.version", "reference: process start only", "`ladder --version`"},
	})
	po, do := r.median("p.promote.overhead"), r.median("p.direct.overhead")
	fmt.Fprintf(&b, "\n- Goal, promotion overhead < %s median: **%s** (%s).\n", ms(overheadGoal), verdict(po < overheadGoal), ms(po))
	fmt.Fprintf(&b, "- promote wall / direct wall (medians): %s; promote overhead − direct overhead: %s (the gates and the promotion's records).\n", ratio(r.median("p.promote"), r.median("p.direct")), ms(po-do))
	fmt.Fprintf(&b, "- direct overhead − `history`: %s (lock, known-good refresh, audit, the HTTP call, and the agent's work outside `deploy.duration`); `history` − `--version`: %s (spec load, SQLite open, one query).\n",
		ms(do-r.median("p.history")), ms(r.median("p.history")-r.median("p.version")))
	for _, n := range r.notes {
		fmt.Fprintf(&b, "- Zero builds: %s.\n", n)
	}
	fmt.Fprintf(&b, "\nWhat the overhead includes: starting the ladder process; loading compose.yaml (compose-go) and ladder.yaml; opening the SQLite store; the promotion lock of dev; closing interrupted promotions; refreshing local's known-good releases; recording the promotion, each gate result and the audit entries; gathering gate evidence (local's releases and events; dev has no soak, tests, approvals or signature gate, so this is the cheapest gate set); finding dev's agent (its file and a ping) and the deploy request over HTTP; and, inside the agent but outside `deploy.duration`, reloading the project, verifying the snapshot, rendering it, and after the apply recording the release outcome, a drift check and the known-good refresh. `deploy.duration` itself is observe, plan and apply until healthy; the process target's start probe runs every 100 ms, which is most of it.\n\n")

	if bn.services > 0 {
		r.bigMarkdown(&b, bn)
	}

	fmt.Fprintf(&b, "## 3. Rollback vs fresh deploy of the same snapshot (dev, N=%d rounds)\n\n", bn.rollbacks)
	fmt.Fprintf(&b, "Each round: (a) dev runs S2 with S1 known-good; `ladder rollback dev -o json` must go S2 → S1 and replace web only; S2 is then promoted back (untimed). (b) `ladder down --env dev` (untimed; the dev agent and all instances stop), then `ladder rollback dev --to S1 -o json` deploys S1 on the empty site: it starts the dev agent and all four services in dependency order (checked from `deploy.changed`). Then S2 is promoted back (untimed). (b) uses `rollback --to` rather than `promote S1 --to dev` so that both sides run the same command without gates (a promotion would also need local to run S1): the ratio compares only what the deploy finds on the site. Images stay unpacked in `.ladder/artifacts/rootfs` (shared by the rungs), so (b) is an empty site, not a cold image cache.\n\n")
	r.table(&b, []row{
		{"r.rollback", "(a) rollback S2 → S1: wall", "`ladder rollback dev -o json`"},
		{"r.rollback.deploy", "(a) rollback: `deploy.duration`", "(from its JSON)"},
		{"r.fresh", "(b) fresh deploy of S1 on an empty dev: wall", "`ladder rollback dev --to S1 -o json`"},
		{"r.fresh.deploy", "(b) fresh: `deploy.duration`", "(from its JSON)"},
	})
	fmt.Fprintf(&b, "\n- fresh / rollback, wall (medians): %s; `deploy.duration`: %s. The wall time of (b) also includes starting the dev agent.\n\n",
		ratio(r.median("r.fresh"), r.median("r.rollback")), ratio(r.median("r.fresh.deploy"), r.median("r.rollback.deploy")))

	fmt.Fprintf(&b, "## Exact commands\n\n")
	fmt.Fprintf(&b, "Every ladder command is `TMP/bin/ladder -C DIR ARGS` with `LADDER_TARGET=process` added to the environment; DIR is the demo copy `TMP/demo/examples/trading` (parts 1 and 3) or `TMP/big` (part 2).\n\n```sh\n")
	fmt.Fprintf(&b, "go build -o TMP/bin/ladder ./cmd/ladder\n")
	fmt.Fprintf(&b, "# setup (demo copy: web published as \"8080\", ladder.yaml = four rungs, every dashboard 127.0.0.1:0)\n")
	fmt.Fprintf(&b, "ladder lint\nladder up -d -o json --dashboard 127.0.0.1:0            # S1, builds all four\nladder promote S1 --to dev -o json\n")
	fmt.Fprintf(&b, "# compose.yaml: web gets LADDERBENCH_VARIANT: \"2\"\nladder up -d -o json --dashboard 127.0.0.1:0            # S2, builds nothing\nladder promote S2 --to dev -o json\n")
	fmt.Fprintf(&b, "# part 1, 2N times alternating S = S1, S2\nladder rollback local --to S -o json                    # untimed, before each promotion\nladder promote S --to dev -o json                       # or: ladder rollback dev --to S -o json\nladder history dev -o json\nladder --version\n")
	fmt.Fprintf(&b, "curl 'AGENT_URL/api/v1/events?kind=artifact.built&limit=1000'   # before and after (done in Go); AGENT_URL from .ladder/agent-local.json\n")
	if bn.services > 0 {
		fmt.Fprintf(&b, "# part 2 (TMP/big; snapshot built in-process with deploy.MakeSnapshot)\nladder diff e1 e9 -o json                               # untimed check\nladder lint\nladder diff e1 e9\n(cd REPO && go test -run='^$' -bench=. ./internal/parity/)\n")
	}
	fmt.Fprintf(&b, "# part 3, per round\nladder rollback dev -o json                             # (a) timed\nladder promote S2 --to dev -o json\nladder down --env dev\nladder rollback dev --to S1 -o json                     # (b) timed\nladder promote S2 --to dev -o json\n")
	fmt.Fprintf(&b, "# cleanup\nladder down --env local; ladder down --env dev; ladder down --env staging; ladder down --env prod\n```\n")
	return b.String()
}

// bigMarkdown is part 2's section.
func (r *results) bigMarkdown(b *strings.Builder, bn *bench) {
	fmt.Fprintf(b, "## 2. `ladder lint` and `ladder diff` on %d services × %d environments\n\n", bn.services, bn.envs)
	fmt.Fprintf(b, "The generated project is internal/parity's benchmark project (same services, variables, dependencies, tiers and per-rung values) with `build: ./svc` (one tiny Go main package shared by every service) instead of `image:`, and `dashboard: 127.0.0.1:0`; `secrets/eN.names` set the five secrets it uses. `ladder diff` needs a snapshot of all %d services: setup builds it once with ladder's own build and snapshot code (`deploy.MakeSnapshot`, what `ladder up` runs before it deploys), without deploying %d processes. Snapshot `%s`; the diff e1/e9 has %d lines, no violation. The artifact layout's `index.json` holds %d images in %d bytes.\n\n",
		bn.services, bn.services, short(r.bigSnapshot), r.diffLines, r.bigIndexImages, r.bigIndexBytes)
	setup := r.median("b.setup.snapshot")
	fmt.Fprintf(b, "Setup (N=1, not part of the goal): writing the files %s; building %d images (an inputs hash per service, mostly from ladder's stat cache, and %d `go build` runs of the same package, two at a time: compiles are Go build cache hits, every run links) and recording the snapshot: %.1f s, %.0f ms per service.\n\n",
		ms(r.median("b.setup.write")), bn.services, bn.services, setup.Seconds(), msf(setup)/float64(bn.services))
	r.table(b, []row{
		{"b.lint.first", "`ladder lint`, first run after setup", "`ladder lint`"},
		{"b.lint", "`ladder lint`", "`ladder lint`"},
		{"b.diff.first", "`ladder diff e1 e9`, first run after setup", "`ladder diff e1 e9`"},
		{"b.diff", "`ladder diff e1 e9`", "`ladder diff e1 e9`"},
	})
	lint, diff := r.median("b.lint"), r.median("b.diff")
	fmt.Fprintf(b, "\n- Goal, each < %s median: lint **%s** (%s), diff **%s** (%s).\n\n", ms(lintDiffGoal), verdict(lint < lintDiffGoal), ms(lint), verdict(diff < lintDiffGoal), ms(diff))

	covers := map[string]string{
		"Load1000x10":    "`spec.Load` of the generated files: **compose-go loading** of compose.yaml (parse, interpolate, normalise) plus ladder.yaml decoding, validation and the stack hash; the benchmarks do not split compose-go from the rest",
		"Lint1000x10":    "`parity.Lint` on the loaded project (no I/O)",
		"Diff1000":       "`parity.Diff` of two ready renders (e0, e9)",
		"RenderDiff1000": "two renders (e0, e9; fake image lookups) and their diff",
	}
	fmt.Fprintf(b, "`go test -run=^$ -bench=. ./internal/parity/` (same shape, `image:` services; one run, default benchtime):\n\n")
	fmt.Fprintf(b, "| benchmark | ms/op | B/op | allocs/op | what it covers |\n|---|---:|---:|---:|---|\n")
	per := map[string]float64{}
	for _, g := range r.goBench {
		per[g.Name] = g.NsPerOp / 1e6
		fmt.Fprintf(b, "| %s | %.1f | %s | %s | %s |\n", g.Name, g.NsPerOp/1e6, g.BytesPerOp, g.AllocsPerOp, covers[g.Name])
	}
	if l, ok := per["Load1000x10"]; ok && bn.services == 1000 && bn.envs == 10 {
		fmt.Fprintf(b, "\n- `ladder lint` median − (Load + Lint): %.0f ms: process start, reading secrets/*.names, printing.\n", msf(lint)-l-per["Lint1000x10"])
		fmt.Fprintf(b, "- `ladder diff` median − (Load + RenderDiff): %.0f ms: process start, opening SQLite and the builder, reading the snapshot, the %d × 2 image lookups in the OCI layout, printing.\n", msf(diff)-l-per["RenderDiff1000"], bn.services)
	}
	fmt.Fprintf(b, "\n```\n%s\n```\n\n", r.goBenchRaw)
}
