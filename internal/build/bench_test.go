package build

import (
	"context"
	"io/fs"
	"path/filepath"
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
			if _, err := s.inputs(ctx, j, nil); err != nil {
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

// BenchmarkRootfsCheck is what Rootfs costs for an image already unpacked
// by this process, which is what every start of an instance on the
// process target pays: the tree is checked against its seal (a walk of
// lstat calls; see treeSeal).
func BenchmarkRootfsCheck(b *testing.B) {
	h, digest, dir := unpackedTree(b)
	ctx := context.Background()
	b.SetBytes(treeSize(b, dir))
	for b.Loop() {
		if _, _, err := h.Rootfs(ctx, digest); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRootfsCheckHashed is the check Rootfs makes of a tree it has no
// seal for (found on disk, or changed since it was sealed), with the
// image's manifest already listed: every file hashed. It was the cost of
// every start before trees were sealed.
func BenchmarkRootfsCheckHashed(b *testing.B) {
	h, digest, dir := unpackedTree(b)
	ctx := context.Background()
	b.SetBytes(treeSize(b, dir))
	for b.Loop() {
		if _, err := h.CheckRootfs(ctx, digest); err != nil {
			b.Fatal(err)
		}
	}
}

// unpackedTree builds the fixture's api service and unpacks its image:
// the harness, the image's digest and the tree.
func unpackedTree(tb testing.TB) (*harness, string, string) {
	tb.Helper()
	h := newHarness(tb, "", nil)
	arts, _ := h.build(tb, stackFor(copyFixture(tb), "api"))
	digest := arts["api"].Digest
	dir, _, err := h.Rootfs(context.Background(), digest)
	if err != nil {
		tb.Fatal(err)
	}
	return h, digest, dir
}

// BenchmarkRootfsCheckCold adds listing the image's files (decompressing
// its layers) to the check: what a new ladder process pays once per
// digest, and what ladder verify pays.
func BenchmarkRootfsCheckCold(b *testing.B) {
	h, digest, dir := unpackedTree(b)
	ctx := context.Background()
	b.SetBytes(treeSize(b, dir))
	for b.Loop() {
		h.memo.manifests.Clear()
		if _, err := h.CheckRootfs(ctx, digest); err != nil {
			b.Fatal(err)
		}
	}
}

func treeSize(b *testing.B, dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
