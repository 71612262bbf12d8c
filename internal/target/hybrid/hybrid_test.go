package hybrid_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/target/compose"
	"github.com/ladderhq/ladder/internal/target/hybrid"
	"github.com/ladderhq/ladder/internal/target/process"
	"github.com/ladderhq/ladder/internal/target/targettest"
)

// engine connects to the real Docker engine; without one the test fails
// under CI and is skipped elsewhere.
func engine(t *testing.T) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := compose.Connect(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v", err)
		}
		t.Skipf("%v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestConformance runs the suite with the suite's services split across
// the halves: front (which proxies to api by name) and flaky run
// natively, api and the migrate job in the engine. Every artifact is a
// static binary, so the split is forced by name on top of the real
// decision.
func TestConformance(t *testing.T) {
	eng := engine(t)
	stack := fmt.Sprintf("hy%d", time.Now().UnixNano()%1_000_000)
	targettest.Run(t, targettest.Harness{
		New: func(t *testing.T, b *build.Builder) target.Target {
			return hybrid.New(hybrid.Options{
				Process: process.New(process.Options{
					StateDir: filepath.Join(t.TempDir(), "state"),
					Rootfs: func(ctx context.Context, digest string) (string, error) {
						dir, _, err := b.Rootfs(ctx, digest)
						return dir, err
					},
				}),
				Engine: func(context.Context) (*compose.Target, error) {
					return compose.New(compose.Options{Engine: eng, Stack: stack, Images: b.Image}), nil
				},
				Native: func(_ context.Context, svc render.Service) (bool, error) {
					img, err := b.Image(svc.Digest)
					if err != nil {
						return false, err
					}
					static, err := build.StaticBinary(img)
					return static && slices.Contains([]string{"front", "flaky"}, svc.Name), err
				},
			})
		},
		AfterDown: func(t *testing.T, site render.SiteRef) {
			ctx := context.Background()
			f := compose.ProjectFilter(compose.ProjectName(stack, site))
			cs, err := eng.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
			if err != nil {
				t.Fatal(err)
			}
			ns, err := eng.NetworkList(ctx, network.ListOptions{Filters: f})
			if err != nil {
				t.Fatal(err)
			}
			if len(cs)+len(ns) > 0 {
				t.Errorf("%d containers and %d networks left after Down", len(cs), len(ns))
			}
		},
	})
}
