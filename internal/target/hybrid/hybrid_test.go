package hybrid_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/plan"
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

// TestFailedSecondHalfPutsTheFirstBack: a release that changes a service
// in each half, whose native half then fails its health check, leaves the
// site on the previous release as a whole: the engine half, already
// switched, is put back. Without the previous desired state, the error
// says the ready half keeps running.
func TestFailedSecondHalfPutsTheFirstBack(t *testing.T) {
	eng := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	b, digest := targettest.Fixture(t, ctx)
	stack := fmt.Sprintf("hyr%d", time.Now().UnixNano()%1_000_000)
	tgt := hybrid.New(hybrid.Options{
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
		// api runs in the engine, front natively: front depends on api,
		// so the engine half goes first.
		Native: func(_ context.Context, svc render.Service) (bool, error) {
			return svc.Name == "front", nil
		},
	})
	site := render.SiteRef{Env: "restore", Site: fmt.Sprintf("s%d", time.Now().UnixNano()%100000)}
	t.Cleanup(func() {
		downCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = tgt.Down(downCtx, site, target.DownOptions{Volumes: true})
	})
	svc := func(name string, env map[string]string, deps ...render.Dependency) render.Service {
		e := map[string]string{"PATH": "/"}
		for k, v := range env {
			e[k] = v
		}
		s := render.Service{
			Name: name, Digest: digest, Entrypoint: []string{"/app"}, WorkingDir: "/",
			Environment: e, Replicas: 1, Restart: "on-failure", StopGrace: 5 * time.Second,
			Ports:     []render.Port{{Target: 8080, Protocol: "tcp"}},
			Health:    &render.Health{HTTP: &render.Endpoint{Path: "/healthz", Port: 8080}, Interval: time.Second, Timeout: time.Second, Retries: 2},
			DependsOn: deps,
		}
		s.Config = render.ConfigHash(s)
		return s
	}
	desired := func(snap, version string, frontEnv map[string]string) *render.Desired {
		fe := map[string]string{"VERSION": "front", "UPSTREAM": "http://api:8080/"}
		for k, v := range frontEnv {
			fe[k] = v
		}
		return &render.Desired{SiteRef: site, Stack: stack, Snapshot: snap, Services: []render.Service{
			svc("api", map[string]string{"VERSION": version}),
			svc("front", fe, render.Dependency{Service: "api", Condition: render.ConditionHealthy}),
		}}
	}
	apply := func(d *render.Desired, prev *render.Desired) error {
		obs, err := tgt.Observe(ctx, site)
		if err != nil {
			t.Fatalf("Observe: %v", err)
		}
		return tgt.Apply(ctx, d, plan.Compute(d, obs), target.ApplyOptions{HealthTimeout: 5 * time.Second, Previous: prev})
	}
	snapshots := func() map[string]string {
		obs, err := tgt.Observe(ctx, site)
		if err != nil {
			t.Fatalf("Observe: %v", err)
		}
		out := map[string]string{}
		for _, in := range obs.Instances {
			out[in.Service] += in.Snapshot
		}
		return out
	}

	a := desired("snapA", "a", nil)
	if err := apply(a, nil); err != nil {
		t.Fatalf("first release: %v", err)
	}
	broken := desired("snapB", "b", map[string]string{"FAIL_HEALTH": "1"})
	err := apply(broken, a)
	var de *target.DeployError
	if !errors.As(err, &de) || de.Service != "front" {
		t.Fatalf("want front's DeployError, got %v", err)
	}
	if !strings.Contains(err.Error(), "put back") {
		t.Errorf("the error does not say the site was put back: %v", err)
	}
	if got := snapshots(); got["api"] != "snapA" || got["front"] != "snapA" {
		t.Errorf("after the failed release the site runs %v, want api and front on snapA only", got)
	}
	for _, e := range tgt.Endpoints(site) {
		if e.Service == "api" && e.Target == 8080 {
			if got := httpGet(t, e.URL); got != "a snapA" {
				t.Errorf("api answers %q, want the previous release's %q", got, "a snapA")
			}
		}
	}

	// Without the previous state the error says so, and nothing is undone.
	err = apply(broken, nil)
	if err == nil || !strings.Contains(err.Error(), "not known") {
		t.Errorf("want an error saying the previous state is not known, got %v", err)
	}
	if got := snapshots(); got["api"] != "snapB" || got["front"] != "snapA" {
		t.Errorf("without the previous state the site runs %v, want api on snapB and front on snapA", got)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(body))
}
