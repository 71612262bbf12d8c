package compose_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/plan"
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

func TestDownKeepsNamedVolumesUnlessAsked(t *testing.T) {
	eng := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, digest := targettest.Fixture(t, ctx)
	stack := uniqueStack("vol")
	tgt := compose.New(compose.Options{Engine: eng, Stack: stack, Images: b.Image})
	site := render.SiteRef{Env: "test", Site: "one"}
	svc := render.Service{
		Name: "api", Digest: digest, Entrypoint: []string{"/app"}, WorkingDir: "/",
		Environment: map[string]string{"PATH": "/", "VERSION": "v"}, Replicas: 1, Restart: "no", StopGrace: time.Second,
		Ports:    []render.Port{{Target: 8080, Protocol: "tcp"}},
		Networks: []string{"default"},
		Volumes:  []render.Mount{{Type: "volume", Source: "data", Target: "/data"}},
	}
	svc.Config = render.ConfigHash(svc)
	d := &render.Desired{SiteRef: site, Stack: stack, Snapshot: strings.Repeat("c", 64), Networks: []string{"default"}, Volumes: []string{"data"}, Services: []render.Service{svc}}
	obs, err := tgt.Observe(ctx, site)
	if err != nil {
		t.Fatal(err)
	}
	if err := tgt.Apply(ctx, d, plan.Compute(d, obs), target.ApplyOptions{HealthTimeout: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	project := compose.ProjectName(stack, site)
	volumes := func() int {
		resp, err := eng.VolumeList(ctx, volume.ListOptions{Filters: compose.ProjectFilter(project)})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.Volumes)
	}
	if n := volumes(); n != 1 {
		t.Fatalf("%d volumes after deploy, want 1", n)
	}
	if err := tgt.Down(ctx, site, target.DownOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := volumes(); n != 1 {
		t.Errorf("Down removed the named volume (%d left); data must survive unless asked", n)
	}
	assertNothingLeft(t, eng, project)
	if err := tgt.Down(ctx, site, target.DownOptions{Volumes: true}); err != nil {
		t.Fatal(err)
	}
	if n := volumes(); n != 0 {
		t.Errorf("Down with Volumes left %d volumes", n)
	}
}
