package process_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/target/process"
	"github.com/ladderhq/ladder/internal/target/targettest"
)

func TestConformance(t *testing.T) {
	targettest.Run(t, targettest.Harness{
		New: func(t *testing.T, b *build.Builder) target.Target {
			return process.New(process.Options{
				StateDir: filepath.Join(t.TempDir(), "state"),
				Rootfs: func(ctx context.Context, digest string) (string, error) {
					dir, _, err := b.Rootfs(ctx, digest)
					return dir, err
				},
			})
		},
	})
}
