package compose_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/target/compose"
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

func uniqueStack(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1_000_000)
}

func TestConformance(t *testing.T) {
	eng := engine(t)
	stack := uniqueStack("ct")
	targettest.Run(t, targettest.Harness{
		New: func(t *testing.T, b *build.Builder) target.Target {
			return compose.New(compose.Options{Engine: eng, Stack: stack, Images: b.Image})
		},
		// After Down, nothing of the project may remain in the engine.
		AfterDown: func(t *testing.T, site render.SiteRef) {
			assertNothingLeft(t, eng, compose.ProjectName(stack, site))
		},
	})
}

func assertNothingLeft(t *testing.T, eng *client.Client, project string) {
	t.Helper()
	ctx := context.Background()
	f := compose.ProjectFilter(project)
	cs, err := eng.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) > 0 {
		t.Errorf("%d containers of %s left after Down", len(cs), project)
	}
	ns, err := eng.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) > 0 {
		t.Errorf("%d networks of %s left after Down", len(ns), project)
	}
}

func renderImageIDs(b *build.Builder) func(string) string { return render.ImageIDs(b.Image) }
