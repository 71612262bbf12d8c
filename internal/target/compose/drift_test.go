package compose_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/store/sqlite"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/target/compose"
	"github.com/ladderhq/ladder/internal/target/targettest"
)

// driftRig is one deployed site on the real engine, with the means to
// tamper with it and to check and repair drift.
type driftRig struct {
	t      *testing.T
	ctx    context.Context
	eng    *client.Client
	tgt    *compose.Target
	d      *render.Desired
	dp     *deploy.Deployer
	opts   drift.Options
	images func(digest string) (v1.Image, error)
}

func newDriftRig(t *testing.T) *driftRig {
	eng := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	b, digest := targettest.Fixture(t, ctx)
	stack := uniqueStack("dr")
	tgt := compose.New(compose.Options{Engine: eng, Stack: stack, Images: b.Image})
	site := render.SiteRef{Env: "test", Site: "one"}
	svc := func(name string, env map[string]string) render.Service {
		e := map[string]string{"PATH": "/"}
		for k, v := range env {
			e[k] = v
		}
		return render.Service{
			Name: name, Digest: digest, Entrypoint: []string{"/app"}, WorkingDir: "/",
			Environment: e, Replicas: 1, Restart: "on-failure", StopGrace: 2 * time.Second,
			Ports:  []render.Port{{Target: 8080, Protocol: "tcp"}},
			Health: &render.Health{HTTP: &render.Endpoint{Path: "/healthz", Port: 8080}, Interval: time.Second, Timeout: time.Second, Retries: 2},
		}
	}
	d := &render.Desired{SiteRef: site, Stack: stack, Snapshot: strings.Repeat("a", 64), Networks: []string{"default"}}
	for _, s := range []render.Service{svc("api", map[string]string{"VERSION": "a"}), svc("worker", map[string]string{"VERSION": "w", "API_TOKEN": "s3cr3t-value"})} {
		s.Networks = []string{"default"}
		s.Config = render.ConfigHash(s)
		d.Services = append(d.Services, s)
	}
	st, err := sqlite.Open(t.TempDir() + "/ladder.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &driftRig{
		t: t, ctx: ctx, eng: eng, tgt: tgt, d: d,
		dp:     &deploy.Deployer{Store: st, ImageID: renderImageIDs(b)},
		opts:   drift.Options{ImageID: renderImageIDs(b)},
		images: b.Image,
	}
	t.Cleanup(func() {
		_ = tgt.Down(context.Background(), site, target.DownOptions{Volumes: true})
		assertNothingLeft(t, eng, compose.ProjectName(stack, site))
	})
	r.deploy()
	return r
}

func (r *driftRig) deploy() {
	r.t.Helper()
	if _, err := r.dp.Deploy(r.ctx, r.tgt, r.d, deploy.Options{HealthTimeout: 30 * time.Second}); err != nil {
		r.t.Fatalf("deploy: %v", err)
	}
}

func (r *driftRig) report() *drift.Report {
	r.t.Helper()
	live, err := r.tgt.Inspect(r.ctx, r.d.SiteRef)
	if err != nil {
		r.t.Fatalf("Inspect: %v", err)
	}
	return drift.Compare(r.d, live, r.opts)
}

func (r *driftRig) assertClean() {
	r.t.Helper()
	if rep := r.report(); rep.Drifted() {
		r.t.Fatalf("unexpected drift:\n%s", rep)
	}
}

// assertDrift checks the report names service with an item of kind.
func (r *driftRig) assertDrift(service string, kind drift.Kind) *drift.Report {
	r.t.Helper()
	rep := r.report()
	for _, sd := range rep.Services {
		for _, it := range sd.Items {
			if sd.Service == service && it.Kind == kind {
				return rep
			}
		}
	}
	r.t.Fatalf("want %s drift on %s, got:\n%s", kind, service, rep)
	return nil
}

func (r *driftRig) containerOf(service string) container.Summary {
	r.t.Helper()
	cs, err := r.eng.ContainerList(r.ctx, container.ListOptions{All: true, Filters: compose.ProjectFilter(r.tgt.Project(r.d.SiteRef))})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, c := range cs {
		if c.Labels["com.docker.compose.service"] == service {
			return c
		}
	}
	r.t.Fatalf("no container for %s", service)
	return container.Summary{}
}

func TestDriftFromOutOfBandChangesAndRepair(t *testing.T) {
	r := newDriftRig(t)
	r.assertClean()

	t.Run("docker stop", func(t *testing.T) {
		r.t = t
		if err := r.eng.ContainerStop(r.ctx, r.containerOf("api").ID, container.StopOptions{}); err != nil {
			t.Fatal(err)
		}
		r.assertDrift("api", drift.KindStopped)
		r.deploy()
		r.assertClean()
	})
	t.Run("docker rm", func(t *testing.T) {
		r.t = t
		if err := r.eng.ContainerRemove(r.ctx, r.containerOf("worker").ID, container.RemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		r.assertDrift("worker", drift.KindMissing)
		r.deploy()
		r.assertClean()
	})
	t.Run("recreated with another environment", func(t *testing.T) {
		r.t = t
		recreate(t, r, "worker", func(cfg *container.Config) {
			for i, kv := range cfg.Env {
				if strings.HasPrefix(kv, "API_TOKEN=") {
					cfg.Env[i] = "API_TOKEN=another-secret"
				}
			}
			cfg.Env = append(cfg.Env, "FAULT=on")
		})
		rep := r.assertDrift("worker", drift.KindEnv)
		text := rep.String()
		for _, secret := range []string{"s3cr3t-value", "another-secret"} {
			if strings.Contains(text, secret) {
				t.Errorf("drift report shows a secret value:\n%s", text)
			}
		}
		if !strings.Contains(text, "FAULT") || !strings.Contains(text, "API_TOKEN") {
			t.Errorf("report misses the changed variables:\n%s", text)
		}
		r.deploy()
		r.assertClean()
	})
	t.Run("recreated with another image", func(t *testing.T) {
		r.t = t
		// Another image: the same program under a changed configuration.
		img, err := r.images(r.d.Services[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Config.Labels = map[string]string{"tampered": "yes"}
		other, err := mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		ref := fmt.Sprintf("ladder-drift-other:%d", time.Now().UnixNano())
		if _, err := build.LoadImage(r.ctx, r.eng, other, ref); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = r.eng.ImageRemove(context.Background(), ref, image.RemoveOptions{}) })
		recreate(t, r, "api", func(cfg *container.Config) { cfg.Image = ref })
		r.assertDrift("api", drift.KindImage)
		r.deploy()
		r.assertClean()
	})
}

// recreate replaces a service's container with one made from the same
// configuration after change, as someone might by hand.
func recreate(t *testing.T, r *driftRig, service string, change func(*container.Config)) {
	t.Helper()
	c := r.containerOf(service)
	info, err := r.eng.ContainerInspect(r.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.eng.ContainerRemove(r.ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	change(cfg)
	netCfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{}}
	for name, ep := range info.NetworkSettings.Networks {
		netCfg.EndpointsConfig[name] = &network.EndpointSettings{Aliases: ep.Aliases}
	}
	resp, err := r.eng.ContainerCreate(r.ctx, cfg, info.HostConfig, netCfg, nil, strings.TrimPrefix(info.Name, "/"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.eng.ContainerStart(r.ctx, resp.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestContainerRemovedMidDeploy(t *testing.T) {
	r := newDriftRig(t)
	// A new api that never becomes healthy, so the release is still
	// waiting when its container disappears.
	next := *r.d
	next.Services = append([]render.Service(nil), r.d.Services...)
	api := next.Services[0]
	api.Environment = map[string]string{"PATH": "/", "VERSION": "b", "FAIL_HEALTH": "1"}
	api.Config = render.ConfigHash(api)
	next.Services[0] = api
	next.Snapshot = strings.Repeat("b", 64)

	done := make(chan error, 1)
	go func() {
		_, err := r.dp.Deploy(r.ctx, r.tgt, &next, deploy.Options{HealthTimeout: time.Minute})
		done <- err
	}()
	project := r.tgt.Project(r.d.SiteRef)
	deadline := time.Now().Add(30 * time.Second)
	removed := false
	for !removed && time.Now().Before(deadline) {
		cs, _ := r.eng.ContainerList(r.ctx, container.ListOptions{All: true, Filters: compose.ProjectFilter(project)})
		for _, c := range cs {
			if c.Labels["dev.ladder.config"] == api.Config {
				if err := r.eng.ContainerRemove(r.ctx, c.ID, container.RemoveOptions{Force: true}); err == nil {
					removed = true
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !removed {
		t.Fatal("the new api container never appeared")
	}
	select {
	case err := <-done:
		var de *target.DeployError
		if !errors.As(err, &de) || de.Service != "api" {
			t.Fatalf("want a DeployError for api, got %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the release did not notice its container was removed")
	}
	// The previous release still runs and matches.
	r.assertClean()
}
