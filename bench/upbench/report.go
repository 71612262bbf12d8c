package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// measurements are the reported figures, in table order.
var measurements = []struct{ key, name string }{
	{"ladder.cold.total", "ladder cold `up -d` (fresh copy, no .ladder): total"},
	{"ladder.cold.build", "ladder cold `up -d`: build (`build.buildTime`)"},
	{"ladder.cold.deploy", "ladder cold `up -d`: deploy (total − build)"},
	{"ladder.warm", "ladder `up`, nothing changed (stack running)"},
	{"ladder.changed.total", "ladder `up`, notifications changed: total"},
	{"ladder.changed.build", "ladder `up`, notifications changed: build (`build.buildTime`)"},
	{"base.cold.total", "by hand cold (empty output dir): total"},
	{"base.cold.build", "by hand cold: `go build` ×4"},
	{"base.cold.start", "by hand cold: start in order until healthy"},
	{"base.noop", "by hand no-op: `go build` ×4, nothing changed"},
	{"base.changed.total", "by hand, notifications changed: total"},
	{"base.changed.build", "by hand, notifications changed: `go build` ×4"},
	{"base.changed.restart", "by hand, notifications changed: restart until healthy"},
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
	samples map[string][]time.Duration
	env     environ
}

func newResults() *results { return &results{samples: map[string][]time.Duration{}} }

func (r *results) add(key string, d time.Duration) { r.samples[key] = append(r.samples[key], d) }

type stat struct {
	Key       string    `json:"key"`
	Name      string    `json:"name"`
	N         int       `json:"n"`
	MedianMS  float64   `json:"medianMs"`
	MinMS     float64   `json:"minMs"`
	MaxMS     float64   `json:"maxMs"`
	SamplesMS []float64 `json:"samplesMs"`
	median    time.Duration
}

func (r *results) stat(key, name string) stat {
	s := slices.Clone(r.samples[key])
	st := stat{Key: key, Name: name, N: len(s)}
	if len(s) == 0 {
		return st
	}
	for _, d := range s {
		st.SamplesMS = append(st.SamplesMS, msf(d))
	}
	slices.Sort(s)
	st.median = s[len(s)/2]
	if len(s)%2 == 0 {
		st.median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	st.MedianMS, st.MinMS, st.MaxMS = msf(st.median), msf(s[0]), msf(s[len(s)-1])
	return st
}

func (r *results) median(key string) time.Duration { return r.stat(key, "").median }

type ratio struct {
	Name     string  `json:"name"`
	LadderMS float64 `json:"ladderMs"`
	BaseMS   float64 `json:"baselineMs"`
	Ratio    float64 `json:"ratio"`
}

func (r *results) ratios() []ratio {
	var out []ratio
	for _, c := range comparisons {
		l, b := r.median(c.ladder), r.median(c.base)
		rt := ratio{Name: c.name, LadderMS: msf(l), BaseMS: msf(b)}
		if b > 0 {
			rt.Ratio = float64(l) / float64(b)
		}
		out = append(out, rt)
	}
	return out
}

// environ is where and how the figures were taken.
type environ struct {
	Date       string `json:"date"`
	Command    string `json:"command"`
	Commit     string `json:"commit"`
	GoVersion  string `json:"goVersion"`
	CPUs       int    `json:"cpus"`
	Kernel     string `json:"kernel"`
	LoadBefore string `json:"loadBefore"`
	LoadAfter  string `json:"loadAfter"`
}

func environment(repo string) environ {
	e := environ{
		Date:       time.Now().Format(time.RFC3339),
		Command:    strings.TrimSpace("go run ./bench/upbench " + strings.Join(os.Args[1:], " ")),
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
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
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
	fmt.Fprintf(&b, "| measurement | median | min | max | N |\n|---|---:|---:|---:|---:|\n")
	for _, m := range measurements {
		st := r.stat(m.key, m.name)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d |\n", m.name, num(st.MedianMS), num(st.MinMS), num(st.MaxMS), st.N)
	}
	fmt.Fprintf(&b, "\n| ladder / by hand (medians) | ladder | by hand | ratio |\n|---|---:|---:|---:|\n")
	for _, rt := range r.ratios() {
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f× |\n", rt.Name, num(rt.LadderMS), num(rt.BaseMS), rt.Ratio)
	}
	w := r.median("ladder.warm")
	verdict := "met"
	if w >= warmGoal {
		verdict = "NOT met"
	}
	fmt.Fprintf(&b, "\nNo-op `ladder up` goal (< %s median): %s (%s).\n", warmGoal, verdict, ms(w))
	fmt.Fprintf(&b, "\nEvery ladder run was checked from its JSON: cold built and started all four; no-op built nothing, release 0, same instances; changed built and replaced only notifications, other instance IDs unchanged. See bench/README.md for what the figures include.\n")
	return b.String()
}

func (r *results) writeJSON(w io.Writer, n, warm int) error {
	doc := struct {
		Env          environ `json:"environment"`
		N            int     `json:"n"`
		Warm         int     `json:"warm"`
		Measurements []stat  `json:"measurements"`
		Ratios       []ratio `json:"ratios"`
		WarmGoalMS   float64 `json:"warmGoalMs"`
	}{Env: r.env, N: n, Warm: warm, Ratios: r.ratios(), WarmGoalMS: msf(warmGoal)}
	for _, m := range measurements {
		doc.Measurements = append(doc.Measurements, r.stat(m.key, m.name))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// num formats milliseconds for the table.
func num(v float64) string { return fmt.Sprintf("%.0f", v) }

// ms formats a duration for progress lines.
func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", msf(d)) }
