package parity

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
)

const (
	benchServices = 1000
	benchEnvs     = 10
)

// generated writes a stack of n services and a ladder of envs rungs: each
// service listens on 8080, has a few variables and depends on its
// predecessor; one in ten runs from tier standard, one in fifty from full
// (never depended on by a lower one). Each rung overlays about a tenth of
// the services with replicas, variables and a secret.
func generated(n, envs int) (compose, ladder string) {
	var c strings.Builder
	c.WriteString("name: big\nservices:\n")
	tier := func(i int) string {
		switch {
		case i%50 == 49:
			return "full"
		case i%10 == 9:
			return "standard"
		}
		return ""
	}
	for i := range n {
		fmt.Fprintf(&c, "  s%04d:\n    image: registry.example.com/s%04d\n    ports: [\"8080\"]\n", i, i)
		fmt.Fprintf(&c, "    environment:\n      SERVICE: s%04d\n      LOG_LEVEL: info\n      PEER_URL: http://s%04d:8080\n", i, (i+1)%n)
		if i%10 != 0 && tier(i-1) == "" {
			fmt.Fprintf(&c, "    depends_on: [s%04d]\n", i-1)
		}
		if t := tier(i); t != "" {
			fmt.Fprintf(&c, "    x-ladder: {tier: %s}\n", t)
		}
	}
	var l strings.Builder
	l.WriteString("environments:\n")
	for e := range envs {
		fmt.Fprintf(&l, "  e%d:\n", e)
		if e > 0 {
			fmt.Fprintf(&l, "    from: e%d\n", e-1)
		}
		if e == envs-1 {
			l.WriteString("    data: real\n    protected: true\n    gates: {signed: true}\n")
		}
		fmt.Fprintf(&l, "    dashboard: 127.0.0.1:%d\n    values:\n      services:\n", 7700+e)
		for i := e; i < n; i += 10 {
			fmt.Fprintf(&l, "        s%04d:\n          replicas: %d\n", i, 1+e%3)
			fmt.Fprintf(&l, "          environment: {LOG_LEVEL: debug, DB_HOST: db%d.e%d.example.com, FLAG_%d: \"on\"}\n", i%7, e, e)
			fmt.Fprintf(&l, "          secrets: {DB_PASSWORD: DB_PASSWORD_%d}\n", i%5)
		}
	}
	return c.String(), l.String()
}

var (
	benchOnce    sync.Once
	benchProject *spec.Project
	benchErr     error
)

func loadGenerated(b *testing.B) *spec.Project {
	b.Helper()
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "parity-bench")
		if err != nil {
			benchErr = err
			return
		}
		defer os.RemoveAll(dir)
		c, l := generated(benchServices, benchEnvs)
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(c), 0o644); err != nil {
			benchErr = err
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "ladder.yaml"), []byte(l), 0o644); err != nil {
			benchErr = err
			return
		}
		benchProject, benchErr = spec.Load(context.Background(), dir, spec.LoadOptions{})
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchProject
}

func benchSecrets(string) []string {
	return []string{"DB_PASSWORD_0", "DB_PASSWORD_1", "DB_PASSWORD_2", "DB_PASSWORD_3", "DB_PASSWORD_4"}
}

func BenchmarkLint1000x10(b *testing.B) {
	p := loadGenerated(b)
	vs := Lint(p, benchSecrets)
	if len(vs) != 0 {
		b.Fatalf("the generated project has %d violations, first %s", len(vs), vs[0])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Lint(p, benchSecrets)
	}
}

func benchRenders(b *testing.B) (p *spec.Project, snap *snapshot.Snapshot) {
	p = loadGenerated(b)
	return p, snapshotOf(p)
}

func BenchmarkDiff1000(b *testing.B) {
	p, snap := benchRenders(b)
	x, y := renderEnv(b, p, "e0", snap), renderEnv(b, p, "e9", snap)
	r := Diff(x, y)
	if !r.OK() || len(r.Lines) == 0 {
		b.Fatalf("unexpected report: %d lines, %d violations", len(r.Lines), r.Violations)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Diff(x, y)
	}
}

// BenchmarkRenderDiff1000 is what `ladder diff` computes: two renders and
// their diff (without the image lookups of the artifact store).
func BenchmarkRenderDiff1000(b *testing.B) {
	p, snap := benchRenders(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		x, err := render.RenderWith(p, "e0", spec.DefaultSite, snap, fakeImages, render.Options{Secrets: render.Placeholder})
		if err != nil {
			b.Fatal(err)
		}
		y, err := render.RenderWith(p, "e9", spec.DefaultSite, snap, fakeImages, render.Options{Secrets: render.Placeholder})
		if err != nil {
			b.Fatal(err)
		}
		Diff(x, y)
	}
}

// TestGeneratedIsClean keeps the benchmark honest: its project lints
// clean and its renders differ only in allowed ways.
func TestGeneratedIsClean(t *testing.T) {
	c, l := generated(50, 3)
	a := archive{files: []archiveFile{{name: "compose.yaml", data: c}, {name: "ladder.yaml", data: l}}}
	p := a.load(t)
	if vs := Lint(p, benchSecrets); len(vs) != 0 {
		t.Fatalf("violations: %v", vs)
	}
	snap := snapshotOf(p)
	if r := Diff(renderEnv(t, p, "e0", snap), renderEnv(t, p, "e2", snap)); !r.OK() {
		t.Fatalf("diff:\n%s", r)
	}
}

// BenchmarkLoad1000x10 is the part of `ladder lint` before Lint: reading
// and validating the generated files.
func BenchmarkLoad1000x10(b *testing.B) {
	dir := b.TempDir()
	c, l := generated(benchServices, benchEnvs)
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(c), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ladder.yaml"), []byte(l), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := spec.Load(context.Background(), dir, spec.LoadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
