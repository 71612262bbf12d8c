package compose_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/target/compose"
	"github.com/ladderhq/ladder/internal/target/targettest"
)

// A service whose only health signal is a Docker healthcheck command with
// a long interval is healthy as soon as the command passes: the deploy
// does not wait out Docker's first interval (ten minutes here).
func TestHealthcheckCommandRunsPromptlyAfterStart(t *testing.T) {
	eng := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, digest := targettest.Fixture(t, ctx)
	stack := uniqueStack("hc")
	tgt := compose.New(compose.Options{Engine: eng, Stack: stack, Images: b.Image})
	site := render.SiteRef{Env: "test", Site: "one"}
	t.Cleanup(func() {
		downCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = tgt.Down(downCtx, site, target.DownOptions{Volumes: true})
	})
	svc := render.Service{
		Name: "db", Digest: digest, Entrypoint: []string{"/app"}, WorkingDir: "/",
		Environment: map[string]string{"PATH": "/", "PORT": "8080", "VERSION": "v"}, Replicas: 1, Restart: "no", StopGrace: time.Second,
		Ports:    []render.Port{{Target: 8080, Protocol: "tcp"}},
		Networks: []string{"default"},
		Health:   &render.Health{Command: []string{"/app", "-healthcheck"}, Interval: 10 * time.Minute, Timeout: 10 * time.Second, Retries: 3},
	}
	svc.Config = render.ConfigHash(svc)
	d := &render.Desired{SiteRef: site, Stack: stack, Snapshot: strings.Repeat("d", 64), Networks: []string{"default"}, Services: []render.Service{svc}}
	obs, err := tgt.Observe(ctx, site)
	if err != nil {
		t.Fatal(err)
	}
	if err := tgt.Apply(ctx, d, plan.Compute(d, obs), target.ApplyOptions{HealthTimeout: 90 * time.Second}); err != nil {
		t.Fatalf("deploy of a service with a 10 minute healthcheck interval: %v", err)
	}
	cs, err := eng.ContainerList(ctx, container.ListOptions{All: true, Filters: compose.ProjectFilter(compose.ProjectName(stack, site))})
	if err != nil || len(cs) != 1 {
		t.Fatalf("%d containers (%v), want 1", len(cs), err)
	}
	info, err := eng.ContainerInspect(ctx, cs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Health == nil || info.State.Health.Status != "starting" {
		t.Fatalf("Docker's health %+v, want starting: Docker's own check has not run yet", info.State.Health)
	}
	// Until Docker's check speaks, the site shows the start check's verdict.
	obs, err = tgt.Observe(ctx, site)
	if err != nil {
		t.Fatal(err)
	}
	var healths []string
	for _, in := range obs.Instances {
		healths = append(healths, in.Health)
	}
	if len(healths) != 1 || healths[0] != plan.HealthHealthy {
		t.Errorf("observed health %v, want [healthy]", healths)
	}
}
