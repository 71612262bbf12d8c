package build

import (
	"context"
	"testing"
)

var benchServices = []string{"api", "worker", "cron", "web"}

// BenchmarkInputsWarm is the per-Build cost of deciding that nothing
// changed for 4 services: open a session (toolchain from the stat cache),
// check every recorded stat and hash the result. No go command may run.
func BenchmarkInputsWarm(b *testing.B) {
	h := newHarness(b, "", nil)
	stack := stackFor(copyFixture(b), benchServices...)
	jobs, errs := h.plan(stack)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	ctx := context.Background()
	warm := func() {
		s, err := h.newSession(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, j := range jobs {
			if _, err := s.inputs(ctx, j); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.cache.save(); err != nil {
			b.Fatal(err)
		}
	}
	warm() // cold: go env and go list, recorded in the stat cache
	h.reset()
	b.ResetTimer()
	for b.Loop() {
		warm()
	}
	b.StopTimer()
	if n := h.lists.Load(); n != 0 {
		b.Fatalf("warm path ran go list %d times", n)
	}
}

// BenchmarkBuildCached is a whole no-op Build of 4 services: inputs, store
// lookups and layout checks.
func BenchmarkBuildCached(b *testing.B) {
	h := newHarness(b, "", nil)
	stack := stackFor(copyFixture(b), benchServices...)
	ctx := context.Background()
	if _, _, err := h.Build(ctx, stack); err != nil {
		b.Fatal(err)
	}
	h.reset()
	b.ResetTimer()
	for b.Loop() {
		_, rep, err := h.Build(ctx, stack)
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Cached) != len(benchServices) {
			b.Fatalf("not all cached: %+v", rep)
		}
	}
	b.StopTimer()
	if n := h.builds.Load() + h.lists.Load(); n != 0 {
		b.Fatalf("cached builds ran %d go commands", n)
	}
}
