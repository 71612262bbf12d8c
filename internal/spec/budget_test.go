package spec

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// aliasBomb is a "billion laughs" YAML mapping: each level is a list of
// width aliases to the level below, so the last level stands for about
// width^(depth+1) nodes in a few hundred bytes. indent is put before every
// line, so the bomb can sit under a key.
func aliasBomb(width, depth int, indent string) string {
	var b strings.Builder
	list := func(item string) string { return "[" + strings.TrimSuffix(strings.Repeat(item+",", width), ",") + "]" }
	fmt.Fprintf(&b, "%sx-a0: &a0 %s\n", indent, list("x"))
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "%sx-a%d: &a%d %s\n", indent, i, i, list(fmt.Sprintf("*a%d", i-1)))
	}
	return b.String()
}

// loadBounded loads dir and fails the test if it takes a second or more,
// or allocates 100 MB or more in all (a bound on the peak).
func loadBounded(t *testing.T, dir string) error {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	begun := time.Now()
	_, err := Load(context.Background(), dir, LoadOptions{})
	took := time.Since(begun)
	runtime.ReadMemStats(&after)
	if took >= time.Second {
		t.Errorf("Load took %s, want under 1s", took)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc >= 100<<20 {
		t.Errorf("Load allocated %d MB, want under 100 MB", alloc>>20)
	}
	return err
}

func TestAliasBombsAreRefusedCheaply(t *testing.T) {
	for _, depth := range []int{5, 6, 8} {
		t.Run(fmt.Sprintf("compose depth %d", depth), func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"compose.yaml": aliasBomb(9, depth, "") +
				fmt.Sprintf("services:\n  web:\n    image: nginx\n    x-bomb: *a%d\n", depth)})
			err := loadBounded(t, dir)
			var ds Diagnostics
			if !errors.As(err, &ds) || len(ds) != 1 {
				t.Fatalf("want one diagnostic, got %v", err)
			}
			// The first alias that alone is over the budget: *a5 inside
			// x-a6, or the use of *a5 in the service.
			want := "compose.yaml:10:13: services.web.x-bomb: alias *a5 expands to more than 100,000 YAML nodes"
			if depth > 5 {
				want = "compose.yaml:7:12: x-a6[0]: alias *a5 expands to more than 100,000 YAML nodes"
			}
			if !strings.HasPrefix(ds[0].String(), want) {
				t.Errorf("got  %s\nwant %s...", ds[0], want)
			}
		})
		t.Run(fmt.Sprintf("ladder depth %d", depth), func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"compose.yaml": "services:\n  web:\n    image: nginx\n",
				"ladder.yaml": "x:\n" + aliasBomb(9, depth, "  ") +
					fmt.Sprintf("environments:\n  local:\n    values:\n      services:\n        web:\n          environment: {A: *a%d}\n", depth),
			})
			err := loadBounded(t, dir)
			var ds Diagnostics
			if !errors.As(err, &ds) || len(ds) != 1 {
				t.Fatalf("want one diagnostic, got %v", err)
			}
			if !strings.HasPrefix(ds[0].String(), "ladder.yaml:") || !strings.Contains(ds[0].Message, "alias *a5 expands to more than 100,000") {
				t.Errorf("got %s", ds[0])
			}
		})
	}
}

func TestBudgetBounds(t *testing.T) {
	deep := "services:\n  web:\n    image: nginx\n    x-deep: " + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + "\n"
	long := "services:\n  web:\n    image: nginx\nx-long: [" + strings.TrimSuffix(strings.Repeat("1,", MaxNodes), ",") + "]\n"
	tests := []struct {
		name, compose, want string
	}{
		{"deep", deep, "compose.yaml:4:13: services.web.x-deep: nested more than 64 levels deep"},
		{"many nodes", long, "compose.yaml:4:9: x-long: holds more than 100,000 YAML nodes"},
		{"too big", "x: \"" + strings.Repeat("a", MaxFileSize) + "\"\n", "compose.yaml:1:1: the stack file is larger than 2 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"compose.yaml": tt.compose})
			ds := loadDiags(t, dir, LoadOptions{})
			if len(ds) != 1 || !strings.HasPrefix(ds[0].String(), tt.want) {
				t.Errorf("got %q, want one diagnostic starting with %q", ds.Error(), tt.want)
			}
		})
	}
	// A ladder file over the size bound is refused the same way.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"compose.yaml": "services: {web: {image: nginx}}\n", "ladder.yaml": "#" + strings.Repeat(" ", MaxFileSize) + "\n"})
	if ds := loadDiags(t, dir, LoadOptions{}); len(ds) != 1 || ds[0].String() != "ladder.yaml:1:1: the ladder file is larger than 2 MiB: ladder refuses to read it" {
		t.Errorf("got %q", ds.Error())
	}
}

// Aliases used the ordinary way (shared blocks merged into services) stay
// well inside the budget.
func TestBudgetAcceptsSharedBlocks(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-common: &common\n  restart: unless-stopped\n  environment: &env {A: a, B: b, C: c, D: d}\n  labels: {team: core}\nservices:\n")
	for i := range 300 {
		fmt.Fprintf(&b, "  s%04d:\n    <<: *common\n    image: nginx\n    environment: *env\n", i)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"compose.yaml": b.String()})
	p := mustLoad(t, dir, LoadOptions{})
	if len(p.Stack.Compose.Services) != 300 {
		t.Errorf("loaded %d services, want 300", len(p.Stack.Compose.Services))
	}
}

func TestMeasureCountsExpandedNodes(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("a: &a [1, 2]\nb: [*a, *a]\n"), &root); err != nil {
		t.Fatal(err)
	}
	s := &sizer{size: map[*yaml.Node]int{}, depth: map[*yaml.Node]int{}, busy: map[*yaml.Node]bool{}}
	// mapping(1) + a(1) + [1,2](3) + b(1) + [*a,*a](1 + 3 + 3)
	if size, depth := s.measure(root.Content[0]); size != 13 || depth != 3 {
		t.Errorf("measure = %d nodes, depth %d; want 13, 3", size, depth)
	}
}

func TestLoadStopsWhenCancelled(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, dir, LoadOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a cancelled context: %v, want context.Canceled", err)
	}

	// The walks over the tree stop within a few thousand nodes.
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("x: ["+strings.TrimSuffix(strings.Repeat("a,", 50_000), ",")+"]"), &root); err != nil {
		t.Fatal(err)
	}
	ip := newInterpolator(ctx, "compose.yaml", nil)
	ip.interpolate(root.Content[0], "", "")
	if !errors.Is(ip.err, context.Canceled) || ip.walked > 2048 {
		t.Errorf("interpolation went on for %d nodes after cancel (err %v)", ip.walked, ip.err)
	}
}

// A file dense with values is refused before it is parsed: parsing it
// alone would cost hundreds of MB.
func TestDenseFileRefusedBeforeParsing(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"compose.yaml": service3 + "x: [" + strings.TrimSuffix(strings.Repeat("1,", 1<<20-20), ",") + "]\n"})
	err := loadBounded(t, dir)
	var ds Diagnostics
	if !errors.As(err, &ds) || len(ds) != 1 || !strings.HasPrefix(ds[0].String(), "compose.yaml:1:1: too many values: 1,04") {
		t.Fatalf("got %v", err)
	}
	// Real files have about one separator per node: the 1,000-service
	// benchmark shape stays far inside.
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  s%04d:\n    image: registry.example.com/s%04d\n    ports: [\"8080\"]\n    environment:\n      SERVICE: s%04d\n      LOG_LEVEL: info\n", i, i, i)
	}
	if n := separators([]byte(b.String())); n > MaxNodes/4 {
		t.Errorf("1,000 services have %d separators", n)
	}
}

const service3 = "services:\n  web:\n    image: nginx\n"
