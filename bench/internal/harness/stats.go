package harness

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Samples are the wall times taken, by figure, in the order taken. The
// programs report medians, min and max rather than means: the reference
// machine is shared and noisy, and one slow outlier must not move the
// figure.
type Samples map[string][]time.Duration

// Add records one sample of key.
func (s Samples) Add(key string, d time.Duration) { s[key] = append(s[key], d) }

// Last is the latest sample of key, 0 if none, for progress lines.
func (s Samples) Last(key string) time.Duration {
	if v := s[key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return 0
}

// Stat summarises the samples of one figure.
type Stat struct {
	N                int
	Median, Min, Max time.Duration
}

// Stat is key's summary; all zero without samples.
func (s Samples) Stat(key string) Stat {
	m, lo, hi := Summary(s[key])
	return Stat{N: len(s[key]), Median: m, Min: lo, Max: hi}
}

// Median is key's median, 0 without samples.
func (s Samples) Median(key string) time.Duration { return s.Stat(key).Median }

// Summary is the median, min and max of vs (durations or byte counts),
// zero for none. An even count's median is the mean of the middle two.
// vs is left as it was: the samples keep the order they were taken in.
func Summary[T ~int64](vs []T) (median, lo, hi T) {
	if len(vs) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	median = s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return median, s[0], s[len(s)-1]
}

// Millis is d in (fractional) milliseconds.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Num formats d as whole milliseconds, for tables.
func Num(d time.Duration) string { return fmt.Sprintf("%.0f", Millis(d)) }

// Ms formats d as "N ms", for progress lines and prose.
func Ms(d time.Duration) string { return Num(d) + " ms" }

// Ratio is a/b, 0 when b is not positive (a figure with no samples).
func Ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Verdict words a goal: goals are reported, never asserted, since the
// machine's load alone can miss them.
func Verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// Row is one line of a table of timed figures.
type Row struct {
	Key  string // the samples' key
	Name string // what the table calls the figure
	// Command is the command timed, shown by tables with a command column.
	Command string
}

// WriteTable writes rows as a Markdown table: the figure's name, its
// command when commands, then median, min and max in whole milliseconds
// and N.
func (s Samples) WriteTable(w io.Writer, rows []Row, commands bool) {
	if commands {
		fmt.Fprintf(w, "| measurement | command | median | min | max | N |\n|---|---|---:|---:|---:|---:|\n")
	} else {
		fmt.Fprintf(w, "| measurement | median | min | max | N |\n|---|---:|---:|---:|---:|\n")
	}
	for _, row := range rows {
		st := s.Stat(row.Key)
		name := row.Name
		if commands {
			name += " | " + row.Command
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d |\n", name, Num(st.Median), Num(st.Min), Num(st.Max), st.N)
	}
}

// Env is where and how the figures were taken, printed with them so that
// runs on different days or machines can be told apart. Programs embed it
// for what they add (engine versions, a mid-run load average).
type Env struct {
	Date       string `json:"date"`
	Command    string `json:"command"`
	Commit     string `json:"commit"`
	GoVersion  string `json:"goVersion"`
	CPUs       int    `json:"cpus"`
	Kernel     string `json:"kernel"`
	LoadBefore string `json:"loadBefore"`
	LoadAfter  string `json:"loadAfter"`
}

// Environment is the run's Env as it starts: LoadAfter is for the program
// to fill in once it has measured. A value it cannot read stays "".
func (r *Run) Environment() Env {
	e := Env{
		Date:       time.Now().Format(time.RFC3339),
		Command:    strings.TrimSpace("go run ./bench/" + r.Tool + " " + strings.Join(os.Args[1:], " ")),
		CPUs:       runtime.NumCPU(),
		LoadBefore: LoadAvg(),
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		e.GoVersion = strings.TrimSpace(string(out))
	}
	// rev-parse only reads: other people work in this checkout.
	git := exec.Command("git", "rev-parse", "--short", "HEAD")
	git.Dir = r.Repo
	if out, err := git.Output(); err == nil {
		e.Commit = strings.TrimSpace(string(out)) + " (plus any uncommitted changes)"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(b))
	}
	return e
}

// LoadAvg is the 1, 5 and 15 minute load averages ("?" if unreadable),
// printed beside the figures: on a shared machine they say how much to
// trust them.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}
