package spec

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected section of the golden files in testdata/")

// A golden case is testdata/NAME.txtar: a comment saying what it checks,
// then "-- FILE --" sections written into a fresh project directory, and
// an "-- expected --" section holding Load's output: the diagnostics one
// per line, or "ok" and a summary of the loaded project.

type archive struct {
	comment string
	files   []archiveFile
}

type archiveFile struct {
	name string
	data string
}

func parseArchive(data string) archive {
	var a archive
	cur := -1
	for _, line := range strings.SplitAfter(data, "\n") {
		trimmed := strings.TrimRight(line, "\n")
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			a.files = append(a.files, archiveFile{name: strings.TrimSpace(trimmed[3 : len(trimmed)-3])})
			cur = len(a.files) - 1
			continue
		}
		if cur < 0 {
			a.comment += line
		} else {
			a.files[cur].data += line
		}
	}
	return a
}

func (a archive) format() string {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, f := range a.files {
		fmt.Fprintf(&b, "-- %s --\n%s", f.name, f.data)
	}
	return b.String()
}

// runCase loads the archive's files from a directory named "proj" (so the
// default project name is stable) and renders the outcome.
func runCase(t *testing.T, a archive, opts LoadOptions) (string, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "proj")
	for _, f := range a.files {
		if f.name == "expected" {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts.RequireContexts = true // as the CLI loads
	p, err := Load(context.Background(), dir, opts)
	if err != nil {
		return err.Error() + "\n", err
	}
	return summarize(p), nil
}

// summarize renders what a successful load produced, enough to see order
// and defaults at a glance.
func summarize(p *Project) string {
	var b strings.Builder
	b.WriteString("ok\n")
	l := p.Ladder
	fmt.Fprintf(&b, "state %s stack-name %s\n", l.State, p.Stack.Name)
	for _, e := range l.Environments {
		sites := make([]string, len(e.Sites))
		for i, s := range e.Sites {
			sites[i] = s.Name
		}
		fmt.Fprintf(&b, "env %s target=%s sites=%s dashboard=%s health.timeout=%s telemetry.interval=%s\n",
			e.Name, e.Target, strings.Join(sites, ","), e.Dashboard, e.Health.Timeout, e.Telemetry.Interval)
		fmt.Fprintf(&b, "  rung from=%s data=%s tier=%s", or(e.From, "-"), e.Data, e.Values.Tier)
		for _, f := range []struct {
			on   bool
			name string
		}{{e.AutoPromote, "autoPromote"}, {e.Protected, "protected"}, {e.Template, "template"}} {
			if f.on {
				fmt.Fprintf(&b, " %s", f.name)
			}
		}
		if len(e.Secrets) > 0 {
			fmt.Fprintf(&b, " secrets=%s", strings.Join(e.Secrets, ","))
		}
		b.WriteString("\n")
		if g := e.Gates; g.Soak != 0 || g.Approvals != 0 || g.Signed || len(g.Tests) > 0 || g.MaxErrorRate != nil || g.MaxP95 != 0 {
			fmt.Fprintf(&b, "  gates soak=%s approvals=%d signed=%v maxErrorRate=%v maxP95=%s\n", g.Soak, g.Approvals, g.Signed, g.ErrorRateLimit(), g.MaxP95)
			for _, t := range g.Tests {
				fmt.Fprintf(&b, "    test %s %q timeout=%s\n", t.Name, t.Command, t.Timeout)
			}
		}
		for _, s := range e.Sites {
			if s.Target == (SiteTarget{}) && s.Values.Region == "" && s.Values.Capacity == 0 && len(s.Values.Endpoints) == 0 {
				continue
			}
			fmt.Fprintf(&b, "  site %s kind=%s", s.Name, e.KindOf(s))
			if c := s.Target.Docker; c != nil {
				fmt.Fprintf(&b, " docker=%s", c.Host)
				if c.TLS != nil {
					fmt.Fprintf(&b, " tls=%+v", *c.TLS)
				}
				if c.Insecure {
					b.WriteString(" insecure")
				}
			}
			if v := s.Values; v.Region != "" || v.Capacity != 0 || len(v.Endpoints) > 0 {
				fmt.Fprintf(&b, " region=%s capacity=%d endpoints=%v", v.Region, v.Capacity, v.Endpoints)
			}
			b.WriteString("\n")
		}
		names := make([]string, 0, len(e.Values.Services))
		for n := range e.Values.Services {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			v := e.Values.Services[n]
			r := "-"
			if v.Replicas != nil {
				r = fmt.Sprint(*v.Replicas)
			}
			fmt.Fprintf(&b, "  values %s replicas=%s env=%v", n, r, v.Environment)
			if len(v.Secrets) > 0 {
				fmt.Fprintf(&b, " secrets=%v", v.Secrets)
			}
			if v.Resources != nil {
				fmt.Fprintf(&b, " resources=%+v", *v.Resources)
			}
			b.WriteString("\n")
			for _, f := range v.Forbidden {
				fmt.Fprintf(&b, "    forbidden %s at %s:%d:%d %s\n", f.Field, f.File, f.Line, f.Col, f.Path)
			}
		}
	}
	names := make([]string, 0, len(p.Stack.Ext))
	for n := range p.Stack.Ext {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		x := p.Stack.Ext[n]
		fmt.Fprintf(&b, "service %s", n)
		if x.Health != nil {
			fmt.Fprintf(&b, " health=%s:%d", x.Health.Path, x.Health.Port)
		}
		if x.Metrics != nil {
			fmt.Fprintf(&b, " metrics=%s:%d", x.Metrics.Path, x.Metrics.Port)
		}
		if x.Tier != "" {
			fmt.Fprintf(&b, " tier=%s", x.Tier)
		}
		if x.Job != "" {
			fmt.Fprintf(&b, " job=%s", x.Job)
		}
		b.WriteString("\n")
	}
	if note := p.Stack.InactiveNote(); note != "" {
		fmt.Fprintf(&b, "%s\n", note)
	}
	for _, kind := range []string{"compose", "process"} {
		for _, w := range p.Warnings(kind) {
			fmt.Fprintf(&b, "[%s] %s\n", kind, w)
		}
	}
	return b.String()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestGolden(t *testing.T) {
	// The cases list linux/amd64 and linux/arm64 and expect amd64 to be
	// the machine's own, wherever they run.
	defer func(a string) { hostArch = a }(hostArch)
	hostArch = "amd64"
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden cases in testdata/")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			a := parseArchive(string(data))
			got, lerr := runCase(t, a, LoadOptions{})

			// Whatever the case, every diagnostic must point somewhere.
			var ds Diagnostics
			if lerr != nil && !errors.As(lerr, &ds) {
				t.Fatalf("Load returned %T, want Diagnostics: %v", lerr, lerr)
			}
			for _, d := range ds {
				if d.Line <= 0 || d.Col <= 0 || d.File == "" || d.Message == "" {
					t.Errorf("diagnostic without a position or text: %#v", d)
				}
			}

			idx := -1
			for i, f := range a.files {
				if f.name == "expected" {
					idx = i
				}
			}
			if *update {
				if idx < 0 {
					a.files = append(a.files, archiveFile{name: "expected"})
					idx = len(a.files) - 1
				}
				a.files[idx].data = got
				if err := os.WriteFile(file, []byte(a.format()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if idx < 0 {
				t.Fatalf("no expected section (run go test -update)")
			}
			if want := a.files[idx].data; got != want {
				t.Errorf("Load output differs\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

func TestParseArchiveRoundTrip(t *testing.T) {
	src := "comment\n-- a.yaml --\nx: 1\n-- expected --\nok\n"
	if got := parseArchive(src).format(); !bytes.Equal([]byte(got), []byte(src)) {
		t.Errorf("round trip: got %q", got)
	}
}
