package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
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
	harness.Samples
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

func newResults() *results { return &results{Samples: harness.Samples{}} }

// environ is where and how the figures were taken.
type environ struct {
	harness.Env
	LoadMid string
}

// ratio is a/b as the tables print it, "-" without samples of b.
func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", harness.Ratio(a, b))
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
	r.WriteTable(&b, []harness.Row{
		{Key: "p.promote", Name: "promote: wall", Command: p},
		{Key: "p.promote.deploy", Name: "promote: `deploy.duration`", Command: "(from its JSON)"},
		{Key: "p.promote.overhead", Name: "**promote: overhead** (wall − `deploy.duration`)"},
		{Key: "p.direct", Name: "direct deploy, no gates: wall", Command: d},
		{Key: "p.direct.deploy", Name: "direct: `deploy.duration`", Command: "(from its JSON)"},
		{Key: "p.direct.overhead", Name: "direct: overhead (wall − `deploy.duration`)"},
		{Key: "p.history", Name: "reference: process start + spec load + store open + one query (in process)", Command: "`ladder history dev -o json`"},
		{Key: "p.version", Name: "reference: process start only", Command: "`ladder --version`"},
	}, true)
	po, do := r.Median("p.promote.overhead"), r.Median("p.direct.overhead")
	fmt.Fprintf(&b, "\n- Goal, promotion overhead < %s median: **%s** (%s).\n", harness.Ms(overheadGoal), harness.Verdict(po < overheadGoal), harness.Ms(po))
	fmt.Fprintf(&b, "- promote wall / direct wall (medians): %s; promote overhead − direct overhead: %s (the gates and the promotion's records).\n", ratio(r.Median("p.promote"), r.Median("p.direct")), harness.Ms(po-do))
	fmt.Fprintf(&b, "- direct overhead − `history`: %s (negative when the engine's work costs less than the spec load and store open a command in process does); `history` − `--version`: %s (spec load, SQLite open, one query).\n",
		harness.Ms(do-r.Median("p.history")), harness.Ms(r.Median("p.history")-r.Median("p.version")))
	for _, n := range r.notes {
		fmt.Fprintf(&b, "- Zero builds: %s.\n", n)
	}
	fmt.Fprintf(&b, "\nWhat the overhead includes: starting the ladder process; finding the project's state directory from ladder.yaml and the engine (its file and a ping over its socket); then, in the background engine that runs the rungs (promote, rollback and approve are thin clients of it), reading the project again if a file changed, recovering what a killed process left, the promotion lock of dev, closing interrupted promotions, refreshing local's known-good releases, recording the promotion, each gate result and the audit entries, gathering gate evidence (local's releases and events; dev has no soak, tests, approvals or signature gate, so this is the cheapest gate set), the deploy request to dev's agent over HTTP; and, inside the agent but outside `deploy.duration`, verifying the snapshot, rendering it, and after the apply recording the release outcome, a drift check and the known-good refresh. `deploy.duration` itself is observe, plan and apply until healthy; the process target's start probe runs every 100 ms, which is most of it.\n\n")

	if bn.services > 0 {
		r.bigMarkdown(&b, bn)
	}

	fmt.Fprintf(&b, "## 3. Rollback vs fresh deploy of the same snapshot (dev, N=%d rounds)\n\n", bn.rollbacks)
	fmt.Fprintf(&b, "Each round: (a) dev runs S2 with S1 known-good; `ladder rollback dev -o json` must go S2 → S1 and replace web only; S2 is then promoted back (untimed). (b) `ladder down --env dev` (untimed; the dev agent and all instances stop), then `ladder rollback dev --to S1 -o json` deploys S1 on the empty site: it starts the dev agent and all four services in dependency order (checked from `deploy.changed`). Then S2 is promoted back (untimed). (b) uses `rollback --to` rather than `promote S1 --to dev` so that both sides run the same command without gates (a promotion would also need local to run S1): the ratio compares only what the deploy finds on the site. Images stay unpacked in `.ladder/artifacts/rootfs` (shared by the rungs), so (b) is an empty site, not a cold image cache.\n\n")
	r.WriteTable(&b, []harness.Row{
		{Key: "r.rollback", Name: "(a) rollback S2 → S1: wall", Command: "`ladder rollback dev -o json`"},
		{Key: "r.rollback.deploy", Name: "(a) rollback: `deploy.duration`", Command: "(from its JSON)"},
		{Key: "r.fresh", Name: "(b) fresh deploy of S1 on an empty dev: wall", Command: "`ladder rollback dev --to S1 -o json`"},
		{Key: "r.fresh.deploy", Name: "(b) fresh: `deploy.duration`", Command: "(from its JSON)"},
	}, true)
	fmt.Fprintf(&b, "\n- fresh / rollback, wall (medians): %s; `deploy.duration`: %s. The wall time of (b) also includes starting the dev agent.\n\n",
		ratio(r.Median("r.fresh"), r.Median("r.rollback")), ratio(r.Median("r.fresh.deploy"), r.Median("r.rollback.deploy")))

	fmt.Fprintf(&b, "## 4. Promotion overhead through a served engine (thin clients)\n\n")
	fmt.Fprintf(&b, "`ladder down --all`, then `ladder serve --listen 127.0.0.1:PORT` runs the engine; local and dev are brought back with `ladder rollback ENV --to S2` (untimed). Then 2N promotions to dev alternate S1 and S2 (each after the untimed `ladder rollback local --to S`), half by a thin client (`ladder promote S --to dev -o json` in an empty directory with `LADDER_SERVER` and `LADDER_TOKEN`: no project, no store), half by one HTTP request from the benchmark (`POST /v1/promote` with the token), which is the engine's own work without starting a process.\n\n")
	r.WriteTable(&b, []harness.Row{
		{Key: "s.thin", Name: "thin client promote: wall", Command: "`LADDER_SERVER=… ladder promote S --to dev -o json`"},
		{Key: "s.thin.deploy", Name: "thin: `deploy.duration`", Command: "(from its JSON)"},
		{Key: "s.thin.overhead", Name: "**thin client: overhead** (wall − `deploy.duration`)"},
		{Key: "s.http", Name: "HTTP promote: request to answer", Command: "`POST /v1/promote`"},
		{Key: "s.http.deploy", Name: "HTTP: `deploy.duration`", Command: "(from its answer)"},
		{Key: "s.http.overhead", Name: "**engine-side overhead** (answer − `deploy.duration`)"},
	}, true)
	fmt.Fprintf(&b, "\n- Goal, promotion overhead < %s median through the engine: **%s** (%s); engine side ≤ 15 ms: **%s** (%s).\n",
		harness.Ms(overheadGoal), harness.Verdict(r.Median("s.thin.overhead") < overheadGoal), harness.Ms(r.Median("s.thin.overhead")),
		harness.Verdict(r.Median("s.http.overhead") <= 15*time.Millisecond), harness.Ms(r.Median("s.http.overhead")))
	fmt.Fprintf(&b, "- over TCP to a served engine / over the socket to the background engine (part 1), overhead medians: %s.\n\n", ratio(r.Median("s.thin.overhead"), r.Median("p.promote.overhead")))

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
	setup := r.Median("b.setup.snapshot")
	fmt.Fprintf(b, "Setup (N=1, not part of the goal): writing the files %s; building %d images (an inputs hash per service, mostly from ladder's stat cache, and %d `go build` runs of the same package, two at a time: compiles are Go build cache hits, every run links) and recording the snapshot: %.1f s, %.0f ms per service.\n\n",
		harness.Ms(r.Median("b.setup.write")), bn.services, bn.services, setup.Seconds(), harness.Millis(setup)/float64(bn.services))
	r.WriteTable(b, []harness.Row{
		{Key: "b.lint.first", Name: "`ladder lint`, first run after setup", Command: "`ladder lint`"},
		{Key: "b.lint", Name: "`ladder lint`", Command: "`ladder lint`"},
		{Key: "b.diff.first", Name: "`ladder diff e1 e9`, first run after setup", Command: "`ladder diff e1 e9`"},
		{Key: "b.diff", Name: "`ladder diff e1 e9`", Command: "`ladder diff e1 e9`"},
	}, true)
	lint, diff := r.Median("b.lint"), r.Median("b.diff")
	fmt.Fprintf(b, "\n- Goal, each < %s median: lint **%s** (%s), diff **%s** (%s).\n\n", harness.Ms(lintDiffGoal), harness.Verdict(lint < lintDiffGoal), harness.Ms(lint), harness.Verdict(diff < lintDiffGoal), harness.Ms(diff))

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
		fmt.Fprintf(b, "\n- `ladder lint` median − (Load + Lint): %.0f ms: process start, reading secrets/*.names, printing.\n", harness.Millis(lint)-l-per["Lint1000x10"])
		fmt.Fprintf(b, "- `ladder diff` median − (Load + RenderDiff): %.0f ms: process start, opening SQLite and the builder, reading the snapshot, the %d × 2 image lookups in the OCI layout, printing.\n", harness.Millis(diff)-l-per["RenderDiff1000"], bn.services)
	}
	fmt.Fprintf(b, "\n```\n%s\n```\n\n", r.goBenchRaw)
}
