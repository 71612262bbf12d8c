package build

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// BenchmarkGoArtifact is what a Go service's build costs after go build
// returns, for a binary of a real service's size (this test binary): the
// image assembled (tar, gzip), stored in the layout, and unpacked for the
// process target. The inner loop pays it on every save.
// LADDER_BENCH_BINARY names another binary to use (a service's).
func BenchmarkGoArtifact(b *testing.B) {
	exe, err := os.Executable()
	if e := os.Getenv("LADDER_BENCH_BINARY"); e != "" {
		exe = e
	}
	if err != nil {
		b.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		b.Fatal(err)
	}
	h := newHarness(b, "", nil)
	ctx := context.Background()
	s, err := h.newSession(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(bin)))
	i := 0
	for b.Loop() {
		i++
		// A changed binary each round, as after an edit, in memory of its
		// own as go build's output is read (the layer holds it).
		fresh := bytes.Clone(bin)
		fresh[len(fresh)-1] = byte(i)
		img, layer, err := goImage(fresh, imageMeta{service: "api", inputs: "x", arch: "amd64"})
		if err != nil {
			b.Fatal(err)
		}
		digest, err := h.storeFresh(s, img, layer, "api")
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := h.Rootfs(ctx, digest); err != nil {
			b.Fatal(err)
		}
		if static, err := h.IsStaticBinary(digest); err != nil || static {
			// The test binary links dynamically or not; what matters is
			// that the question is answered from memory.
			_ = static
		}
	}
}
