package build

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// learnRecipe builds the stack once with the go command, so that h learns
// the worker's recipe, and waits until it is proven.
func learnRecipe(t *testing.T, h *harness, src string) {
	t.Helper()
	// A recipe is learnt from a build that compiles the main package:
	// one the go command's cache does not have yet.
	main := filepath.Join(src, "services", "worker", "main.go")
	writeFile(t, main, readFile(t, main)+fmt.Sprintf("\n// %s %d\n", t.Name(), time.Now().UnixNano()))
	age(t, src)
	h.build(t, stackFor(src, "worker"))
	h.memo.WaitProofs()
	if h.memo.recipe(filepath.Join(src, "services", "worker")) == nil {
		t.Fatal("no recipe was learnt from a go build of the worker")
	}
}

// goBuildAlone builds the stack as it is now with a builder that knows
// nothing: what the go command alone gives.
func goBuildAlone(t *testing.T, src string) snapshot.Artifact {
	t.Helper()
	h := newHarness(t, "", nil)
	h.opts.Recipes = false // the reference learns nothing
	arts, _ := h.build(t, stackFor(src, "worker"))
	return arts["worker"]
}

func TestRecipeRebuildsTheMainPackageWithoutTheGoCommand(t *testing.T) {
	src := copyFixture(t)
	h := newHarness(t, "", nil)
	learnRecipe(t, h, src)
	main := filepath.Join(src, "services", "worker", "main.go")
	orig := readFile(t, main)

	for i, greeting := range []string{"worker v2", "worker v3"} {
		writeFile(t, main, strings.Replace(orig, `"worker"`, `"`+greeting+`"`, 1))
		arts, rep := h.build(t, stackFor(src, "worker"))
		checkReport(t, rep, []string{"worker"}, nil)
		if b, l := h.builds.Load(), h.lists.Load(); b != 0 || l != 0 {
			t.Fatalf("edit %d: a change inside the main package ran go build %d and go list %d times, want neither", i, b, l)
		}
		// The same inputs and the same bytes as the go command's.
		if want := goBuildAlone(t, src); arts["worker"].Inputs != want.Inputs || arts["worker"].Digest != want.Digest {
			t.Fatalf("edit %d: recipe gave inputs %s digest %s, go build %s %s", i, arts["worker"].Inputs, arts["worker"].Digest, want.Inputs, want.Digest)
		}
		if left := tmpLeft(h); len(left) > 0 {
			t.Fatalf("edit %d: the replay left %d entries in the builder's tmp", i, len(left))
		}
	}
	// Back to the first version: inputs seen before, the artifact cached.
	writeFile(t, main, orig)
	_, rep := h.build(t, stackFor(src, "worker"))
	checkReport(t, rep, nil, []string{"worker"})
}

// TestRecipeStepsAsideForTheGoCommand: every change a recipe cannot
// replay goes to go build, which gives what it always gives, and the next
// change inside the main package is a replay again.
func TestRecipeStepsAsideForTheGoCommand(t *testing.T) {
	src := copyFixture(t)
	h := newHarness(t, "", nil)
	learnRecipe(t, h, src)
	dir := filepath.Join(src, "services", "worker")
	main := filepath.Join(dir, "main.go")
	orig := readFile(t, main)
	round := 0
	cases := []struct {
		name string
		edit func()
	}{
		{"a new import", func() {
			writeFile(t, main, strings.Replace(orig, `"fmt"`, "\"fmt\"\n\t\"os\"", 1)+"\nvar _ = os.Args\n")
		}},
		{"a new file", func() { writeFile(t, filepath.Join(dir, "extra.go"), "package main\n\nvar extra = 1\n") }},
		{"a file left out by a build constraint", func() {
			writeFile(t, filepath.Join(dir, "extra.go"), "//go:build ignore\n\npackage main\n\nvar extra = 1\n")
		}},
		{"a //go:debug directive", func() { writeFile(t, main, "//go:debug panicnil=1\n\n"+orig) }},
		{"the shared package", func() {
			g := filepath.Join(src, "internal", "greet", "greet.go")
			writeFile(t, g, strings.Replace(readFile(t, g), `"hello, "`, `"hi, "`, 1))
		}},
		{"go.mod", func() {
			writeFile(t, filepath.Join(src, "go.mod"), "module example.com/shop\n\ngo 1.23\n")
		}},
	}
	for _, c := range cases {
		round++
		c.edit()
		arts, rep := h.build(t, stackFor(src, "worker"))
		h.memo.WaitProofs()
		checkReport(t, rep, []string{"worker"}, nil)
		if b := h.builds.Load(); b != 1 {
			t.Fatalf("%s: go build ran %d times, want 1", c.name, b)
		}
		if want := goBuildAlone(t, src); arts["worker"].Inputs != want.Inputs || arts["worker"].Digest != want.Digest {
			t.Fatalf("%s: got inputs %s digest %s, go build alone %s %s", c.name, arts["worker"].Inputs, arts["worker"].Digest, want.Inputs, want.Digest)
		}
		// Once the files it was made from are old enough to be trusted
		// by their stats, an edit of the main package teaches a recipe
		// again (if that build did not), and the next is replayed.
		age(t, src)
		for i := range 2 {
			cur := readFile(t, main)
			writeFile(t, main, strings.Replace(cur, "func main() {", fmt.Sprintf("func main() {\n\t_ = %d", 10*round+i), 1))
			arts, rep = h.build(t, stackFor(src, "worker"))
			h.memo.WaitProofs()
			checkReport(t, rep, []string{"worker"}, nil)
		}
		if b, l := h.builds.Load(), h.lists.Load(); b != 0 || l != 0 {
			t.Fatalf("after %s: an edit of main ran go build %d and go list %d times, want neither", c.name, b, l)
		}
		if want := goBuildAlone(t, src); arts["worker"].Digest != want.Digest {
			t.Fatalf("after %s: recipe digest %s, go build %s", c.name, arts["worker"].Digest, want.Digest)
		}
	}
}

// TestRecipeCompileErrorIsGoBuilds: a change that does not compile is
// reported as go build reports it.
func TestRecipeCompileErrorIsGoBuilds(t *testing.T) {
	src := copyFixture(t)
	h := newHarness(t, "", nil)
	learnRecipe(t, h, src)
	main := filepath.Join(src, "services", "worker", "main.go")
	writeFile(t, main, strings.Replace(readFile(t, main), "flag.Parse()", "flag.Parse()\n\tundefinedThing()", 1))
	h.reset()
	_, _, err := h.Build(context.Background(), stackFor(src, "worker"))
	if err == nil {
		t.Fatal("a build of code that does not compile succeeded")
	}
	for _, want := range []string{`service "worker": go build failed`, "# example.com/shop/services/worker", "main.go:", "undefined: undefinedThing"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q lacks %q", err, want)
		}
	}
	for _, trace := range []string{"WORK=", "/pkg/tool/", "importcfg", "mkdir -p"} {
		if strings.Contains(err.Error(), trace) {
			t.Fatalf("error %q shows the build's trace (%q)", err, trace)
		}
	}
}

// TestNoRecipeForEmbeddingPackages: the api embeds files, which a recipe
// does not replay; its builds are go builds.
func TestNoRecipeForEmbeddingPackages(t *testing.T) {
	src := copyFixture(t)
	h := newHarness(t, "", nil)
	h.build(t, stackFor(src, "api"))
	h.memo.WaitProofs()
	if h.memo.recipe(filepath.Join(src, "services", "api")) != nil {
		t.Fatal("a recipe was made for a package that embeds files")
	}
}

// BenchmarkRebuildAfterASave is one Build after a save inside the worker's
// main package: with its recipe (the compiler and the linker run
// directly), and with the go command (the recipe forgotten before each
// build). Each iteration writes a new version, so both really compile.
func BenchmarkRebuildAfterASave(b *testing.B) {
	for _, mode := range []string{"recipe", "go build"} {
		b.Run(mode, func(b *testing.B) {
			src := copyFixture(b)
			h := newHarness(b, "", nil)
			h.opts.Logger = nil
			stack := stackFor(src, "worker")
			main := filepath.Join(src, "services", "worker", "main.go")
			orig := readFile(b, main)
			n := time.Now().UnixNano()
			save := func() {
				n++
				writeFile(b, main, strings.Replace(orig, `"worker"`, fmt.Sprintf(`"worker %d"`, n), 1))
			}
			ctx := context.Background()
			for range 2 { // learn the recipe: the second build compiles main
				save()
				if _, _, err := h.Build(ctx, stack); err != nil {
					b.Fatal(err)
				}
				h.memo.WaitProofs()
			}
			dir := filepath.Join(src, "services", "worker")
			recipe := h.memo.recipe(dir)
			if recipe == nil {
				b.Fatal("no recipe learnt")
			}
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				save()
				if mode == "go build" {
					h.memo.dropRecipe(dir, h.memo.recipe(dir))
				}
				b.StartTimer()
				if _, _, err := h.Build(ctx, stack); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				h.memo.WaitProofs() // a go build teaches a recipe: not timed
				b.StartTimer()
			}
		})
	}
}

// A recipe stands only on what it was proven with: a compiled package gone
// from the build cache, or a replay that does not give go build's bytes,
// and it is not used.
func TestRecipeIsCheckedBeforeUse(t *testing.T) {
	src := copyFixture(t)
	h := newHarness(t, "", nil)
	learnRecipe(t, h, src)
	r := h.memo.recipe(filepath.Join(src, "services", "worker"))
	ctx := context.Background()
	s, err := h.newSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.check(s.tc.Key)
	if err != nil {
		t.Fatalf("the proven recipe does not apply to the files it was proven on: %v", err)
	}
	want, _, err := h.replay(ctx, st)
	if err != nil {
		t.Fatal(err)
	}

	gone := *r
	gone.archives = append(slices.Clone(r.archives), filepath.Join(t.TempDir(), "evicted-d"))
	if _, err := gone.check(s.tc.Key); err == nil || !strings.Contains(err.Error(), "left the build cache") {
		t.Fatalf("a recipe whose compiled package is gone: %v", err)
	}
	if _, err := r.check("another toolchain"); err == nil {
		t.Fatal("a recipe applied under another toolchain")
	}

	// A recipe that builds something else (here: the symbol table kept)
	// fails its proof, and is never made the context's.
	other := *r
	other.link.Argv = slices.DeleteFunc(slices.Clone(r.link.Argv), func(a string) bool { return a == "-s" })
	if err := h.prove(ctx, &other, s.goBin, s.env, want); err == nil || !strings.Contains(err.Error(), "not go build's") {
		t.Fatalf("proving a recipe that links differently: %v", err)
	}
}

// A builder that is not asked for recipes (a one-off `ladder up`) runs go
// build as it always did, and neither learns nor proves anything.
func TestNoRecipesUnlessAsked(t *testing.T) {
	src := copyFixture(t)
	h := newHarness(t, "", nil)
	h.opts.Recipes = false
	main := filepath.Join(src, "services", "worker", "main.go")
	for i := range 2 {
		writeFile(t, main, readFile(t, main)+fmt.Sprintf("\n// %s %d %d\n", t.Name(), time.Now().UnixNano(), i))
		h.build(t, stackFor(src, "worker"))
		h.memo.WaitProofs()
		if b := h.builds.Load(); b != 1 {
			t.Fatalf("build %d ran go build %d times, want 1", i, b)
		}
	}
	if h.memo.recipe(filepath.Join(src, "services", "worker")) != nil {
		t.Fatal("a builder without Recipes learnt one")
	}
	if left := tmpLeft(h); len(left) > 0 {
		t.Fatalf("the builds left %d entries in the builder's tmp", len(left))
	}
}
