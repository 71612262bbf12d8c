package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

// measurements are the reported figures, in table order.
var measurements = []harness.Row{
	{Key: "ladder.cold.total", Name: "ladder cold `up -d` (fresh copy, no .ladder): total"},
	{Key: "ladder.cold.build", Name: "ladder cold `up -d`: build (`build.buildTime`)"},
	{Key: "ladder.cold.deploy", Name: "ladder cold `up -d`: deploy (total − build)"},
	{Key: "ladder.warm", Name: "ladder `up`, nothing changed (stack running)"},
	{Key: "ladder.changed.total", Name: "ladder `up`, notifications changed: total"},
	{Key: "ladder.changed.build", Name: "ladder `up`, notifications changed: build (`build.buildTime`)"},
	{Key: "base.cold.total", Name: "by hand cold (empty output dir): total"},
	{Key: "base.cold.build", Name: "by hand cold: `go build` ×4"},
	{Key: "base.cold.start", Name: "by hand cold: start in order until healthy"},
	{Key: "base.noop", Name: "by hand no-op: `go build` ×4, nothing changed"},
	{Key: "base.changed.total", Name: "by hand, notifications changed: total"},
	{Key: "base.changed.build", Name: "by hand, notifications changed: `go build` ×4"},
	{Key: "base.changed.restart", Name: "by hand, notifications changed: restart until healthy"},
}

// comparisons are the ladder/by-hand ratios of the medians.
var comparisons = []struct{ name, ladder, base string }{
	{"cold", "ladder.cold.total", "base.cold.total"},
	{"no-op", "ladder.warm", "base.noop"},
	{"one service changed", "ladder.changed.total", "base.changed.total"},
}

// warmGoal is the target for a no-op `ladder up`.
const warmGoal = 300 * time.Millisecond

type results struct {
	harness.Samples
	env harness.Env
}

func newResults() *results { return &results{Samples: harness.Samples{}} }

// stat is one figure of the JSON output, with every sample.
type stat struct {
	Key       string    `json:"key"`
	Name      string    `json:"name"`
	N         int       `json:"n"`
	MedianMS  float64   `json:"medianMs"`
	MinMS     float64   `json:"minMs"`
	MaxMS     float64   `json:"maxMs"`
	SamplesMS []float64 `json:"samplesMs"`
}

func (r *results) figure(m harness.Row) stat {
	st := r.Stat(m.Key)
	out := stat{Key: m.Key, Name: m.Name, N: st.N}
	if st.N == 0 {
		return out
	}
	for _, d := range r.Samples[m.Key] {
		out.SamplesMS = append(out.SamplesMS, harness.Millis(d))
	}
	out.MedianMS, out.MinMS, out.MaxMS = harness.Millis(st.Median), harness.Millis(st.Min), harness.Millis(st.Max)
	return out
}

type ratio struct {
	Name     string  `json:"name"`
	LadderMS float64 `json:"ladderMs"`
	BaseMS   float64 `json:"baselineMs"`
	Ratio    float64 `json:"ratio"`
}

func (r *results) ratios() []ratio {
	var out []ratio
	for _, c := range comparisons {
		l, b := r.Median(c.ladder), r.Median(c.base)
		out = append(out, ratio{Name: c.name, LadderMS: harness.Millis(l), BaseMS: harness.Millis(b), Ratio: harness.Ratio(l, b)})
	}
	return out
}

func (r *results) markdown(n, warm int) string {
	var b strings.Builder
	e := r.env
	fmt.Fprintf(&b, "# `ladder up` benchmark, %s\n\n", e.Date)
	fmt.Fprintf(&b, "- command: `%s` (cold and changed N=%d, no-op N=%d)\n", e.Command, n, warm)
	fmt.Fprintf(&b, "- ladder: commit %s, process target, trading demo (4 Go services)\n", e.Commit)
	fmt.Fprintf(&b, "- machine: %d CPUs, Linux %s, %s; load average %s before, %s after\n", e.CPUs, e.Kernel, e.GoVersion, e.LoadBefore, e.LoadAfter)
	fmt.Fprintf(&b, "- Go build cache warm: one discarded ladder cold up and one discarded by-hand cold run came first\n")
	fmt.Fprintf(&b, "- wall times in ms; noisy shared machine: compare medians and ratios, not single runs\n\n")
	r.WriteTable(&b, measurements, false)
	fmt.Fprintf(&b, "\n| ladder / by hand (medians) | ladder | by hand | ratio |\n|---|---:|---:|---:|\n")
	for _, rt := range r.ratios() {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.2f× |\n", rt.Name, rt.LadderMS, rt.BaseMS, rt.Ratio)
	}
	w := r.Median("ladder.warm")
	fmt.Fprintf(&b, "\nNo-op `ladder up` goal (< %s median): %s (%s).\n", warmGoal, harness.Verdict(w < warmGoal), harness.Ms(w))
	fmt.Fprintf(&b, "\nEvery ladder run was checked from its JSON: cold built and started all four; no-op built nothing, release 0, same instances; changed built and replaced only notifications, other instance IDs unchanged. See bench/README.md for what the figures include.\n")
	return b.String()
}

func (r *results) writeJSON(w io.Writer, n, warm int) error {
	doc := struct {
		Env          harness.Env `json:"environment"`
		N            int         `json:"n"`
		Warm         int         `json:"warm"`
		Measurements []stat      `json:"measurements"`
		Ratios       []ratio     `json:"ratios"`
		WarmGoalMS   float64     `json:"warmGoalMs"`
	}{Env: r.env, N: n, Warm: warm, Ratios: r.ratios(), WarmGoalMS: harness.Millis(warmGoal)}
	for _, m := range measurements {
		doc.Measurements = append(doc.Measurements, r.figure(m))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
