package targettest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store/sqlite"
	"github.com/ladderhq/ladder/internal/target"
)

// Harness is what a target under test provides to the suite.
type Harness struct {
	// New returns the target under test. Artifacts come from b: a target
	// runs the images b built (unpacking or loading them as it needs).
	New func(t *testing.T, b *build.Builder) target.Target
	// AfterDown, when set, checks the runtime holds nothing of the site
	// after Down (containers, networks, processes...).
	AfterDown func(t *testing.T, site render.SiteRef)
}

// fixture holds the suite's one artifact: testdata/app built as an image.
type fixture struct {
	digest string
}

// Fixture builds the suite's test service (testdata/app) into a fresh
// artifact store and returns the builder and the artifact's digest, for
// target-specific tests beyond the suite. See testdata/app/main.go for the
// environment knobs that set its behaviour.
func Fixture(t *testing.T, ctx context.Context) (*build.Builder, string) {
	b, fx := buildFixture(t, ctx)
	return b, fx.digest
}

// Run runs the suite. The subtests share one target and run in order,
// because each builds on the state the previous one left.
func Run(t *testing.T, h Harness) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	b, fx := buildFixture(t, ctx)
	tgt := h.New(t, b)
	site := render.SiteRef{Env: "conformance", Site: fmt.Sprintf("s%d", time.Now().UnixNano()%100000)}
	t.Cleanup(func() {
		downCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = tgt.Down(downCtx, site, target.DownOptions{Volumes: true})
	})
	s := &suite{t: t, ctx: ctx, tgt: tgt, site: site, fx: fx, afterDown: h.AfterDown}
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"DeployFromNothing", s.deployFromNothing},
		{"ReplaceOnlyWhatChanged", s.replaceOnlyWhatChanged},
		{"FailedHealthKeepsPrevious", s.failedHealthKeepsPrevious},
		{"CrashOnStartKeepsPrevious", s.crashOnStartKeepsPrevious},
		{"JobCompletesBeforeDependents", s.jobCompletesBeforeDependents},
		{"RestartsCrashedInstance", s.restartsCrashedInstance},
		{"PublishedPortInUse", s.publishedPortInUse},
		{"DownLeavesNothing", s.downLeavesNothing},
	}
	for _, step := range steps {
		if !t.Run(step.name, step.run) {
			t.Fatalf("%s failed; later steps depend on it", step.name)
		}
	}
}

func buildFixture(t *testing.T, ctx context.Context) (*build.Builder, fixture) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	appDir := filepath.Join(filepath.Dir(file), "testdata", "app")
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := build.New(build.Options{Store: st, Dir: filepath.Join(dir, "artifacts")})
	stack := &spec.Stack{
		Name: "conformance",
		Compose: &types.Project{
			Name:       "conformance",
			WorkingDir: appDir,
			Services: types.Services{
				"app": {Name: "app", WorkloadSpec: types.WorkloadSpec{Build: &types.BuildConfig{Context: appDir}, Ports: []types.ServicePortConfig{{Target: 8080, Protocol: "tcp"}}}},
			},
		},
		Ext: map[string]spec.ServiceExt{},
	}
	arts, _, err := b.Build(ctx, stack)
	if err != nil {
		t.Fatalf("building the fixture: %v", err)
	}
	return b, fixture{digest: arts["app"].Digest}
}

type suite struct {
	t    *testing.T
	ctx  context.Context
	tgt  target.Target
	site render.SiteRef
	fx   fixture

	frontID   string // instance ID of "front" after the first deploy
	afterDown func(t *testing.T, site render.SiteRef)
}

// svc is a fixture service listening on 8080 with an HTTP health check.
func (s *suite) svc(name string, env map[string]string, deps ...render.Dependency) render.Service {
	e := map[string]string{"PATH": "/"}
	for k, v := range env {
		e[k] = v
	}
	return render.Service{
		Name: name, Digest: s.fx.digest, Entrypoint: []string{"/app"}, WorkingDir: "/",
		Environment: e, Replicas: 1, Restart: "on-failure", StopGrace: 5 * time.Second,
		Ports:     []render.Port{{Target: 8080, Protocol: "tcp"}},
		Health:    &render.Health{HTTP: &render.Endpoint{Path: "/healthz", Port: 8080}, Interval: time.Second, Timeout: time.Second, Retries: 2},
		DependsOn: deps,
	}
}

func (s *suite) desired(snap string, svcs ...render.Service) *render.Desired {
	d := &render.Desired{SiteRef: s.site, Stack: "conformance", Snapshot: snap}
	for _, svc := range svcs {
		svc.Config = render.ConfigHash(svc)
		d.Services = append(d.Services, svc)
	}
	return d
}

// apply observes, plans and applies d, as the deploy loop does.
func (s *suite) apply(t *testing.T, d *render.Desired, timeout time.Duration) (*plan.Plan, error) {
	t.Helper()
	obs, err := s.tgt.Observe(s.ctx, s.site)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	p := plan.Compute(d, obs)
	t.Logf("%s", p)
	return p, s.tgt.Apply(s.ctx, d, p, target.ApplyOptions{HealthTimeout: timeout})
}

func (s *suite) observe(t *testing.T) *plan.Observed {
	t.Helper()
	obs, err := s.tgt.Observe(s.ctx, s.site)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	return obs
}

func (s *suite) endpoint(t *testing.T, service string) string {
	t.Helper()
	for _, e := range s.tgt.Endpoints(s.site) {
		if e.Service == service && e.Target == 8080 {
			return e.URL
		}
	}
	t.Fatalf("no endpoint for %s in %+v", service, s.tgt.Endpoints(s.site))
	return ""
}

func get(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: HTTP %d: %s", url, resp.StatusCode, b)
	}
	return strings.TrimSpace(string(b))
}

func (s *suite) base(version string) []render.Service {
	return []render.Service{
		s.svc("api", map[string]string{"VERSION": version}),
		s.svc("front", map[string]string{"VERSION": "front", "UPSTREAM": "http://api:8080/"},
			render.Dependency{Service: "api", Condition: render.ConditionHealthy}),
	}
}

func (s *suite) deployFromNothing(t *testing.T) {
	d := s.desired("snapA", s.base("a")...)
	if _, err := s.apply(t, d, 30*time.Second); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	obs := s.observe(t)
	if len(obs.Instances) != 2 {
		t.Fatalf("want 2 instances, got %+v", obs.Instances)
	}
	for _, in := range obs.Instances {
		if in.Snapshot != "snapA" || in.State != plan.StateRunning || in.Health != plan.HealthHealthy {
			t.Errorf("instance %s/%s: snapshot %q state %q health %q, want snapA running healthy", in.Service, in.Slot, in.Snapshot, in.State, in.Health)
		}
		if in.Service == "front" {
			s.frontID = in.ID
		}
	}
	if got := get(t, s.endpoint(t, "api")); got != "a snapA" {
		t.Errorf("api answers %q, want %q", got, "a snapA")
	}
	// front reaches api by its service name, as it would in Compose.
	if got := get(t, s.endpoint(t, "front")+"/upstream"); got != "a snapA" {
		t.Errorf("front/upstream answers %q, want %q", got, "a snapA")
	}
	if p := plan.Compute(d, s.observe(t)); !p.Empty() {
		t.Errorf("deploying the same desired state again is not a no-op:\n%s", p)
	}
}

func (s *suite) replaceOnlyWhatChanged(t *testing.T) {
	d := s.desired("snapB", s.base("b")...)
	p, err := s.apply(t, d, 30*time.Second)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := p.Changed(); len(got) != 1 || got[0] != "api" {
		t.Errorf("plan changes %v, want only api", got)
	}
	obs := s.observe(t)
	if n := len(obs.Of("api")); n != 1 {
		t.Errorf("want the old api instance gone, got %d instances: %+v", n, obs.Of("api"))
	}
	front := obs.Of("front")
	if len(front) != 1 || front[0].ID != s.frontID {
		t.Errorf("front was restarted: was %s, now %+v", s.frontID, front)
	}
	for _, in := range obs.Instances {
		if in.Snapshot != "snapB" {
			t.Errorf("%s/%s belongs to %q, want snapB", in.Service, in.Slot, in.Snapshot)
		}
	}
	if got := get(t, s.endpoint(t, "api")); got != "b snapB" {
		t.Errorf("api answers %q, want %q", got, "b snapB")
	}
	if got := get(t, s.endpoint(t, "front")+"/upstream"); got != "b snapB" {
		t.Errorf("front/upstream answers %q after the switch, want %q", got, "b snapB")
	}
}

// assertStillB checks the site still runs snapshot B untouched.
func (s *suite) assertStillB(t *testing.T) {
	t.Helper()
	obs := s.observe(t)
	if len(obs.Instances) != 2 {
		t.Errorf("want B's 2 instances only, got %+v", obs.Instances)
	}
	for _, in := range obs.Instances {
		if in.Snapshot != "snapB" {
			t.Errorf("%s/%s belongs to %q, want snapB", in.Service, in.Slot, in.Snapshot)
		}
	}
	if got := get(t, s.endpoint(t, "api")); got != "b snapB" {
		t.Errorf("api answers %q, want the previous release's %q", got, "b snapB")
	}
}

func (s *suite) failedHealthKeepsPrevious(t *testing.T) {
	svcs := s.base("c")
	svcs[0].Environment["FAIL_HEALTH"] = "1"
	_, err := s.apply(t, s.desired("snapC", svcs...), 3*time.Second)
	var de *target.DeployError
	if !errors.As(err, &de) || de.Service != "api" {
		t.Fatalf("want a DeployError for api, got %v", err)
	}
	if !errors.Is(err, target.ErrTimeout) {
		t.Errorf("want ErrTimeout in %v", err)
	}
	if !strings.Contains(de.Reason, "503") {
		t.Errorf("reason %q does not say what the last check saw (HTTP 503)", de.Reason)
	}
	s.assertStillB(t)
}

func (s *suite) crashOnStartKeepsPrevious(t *testing.T) {
	svcs := s.base("d")
	svcs[0].Environment["CRASH"] = "start"
	_, err := s.apply(t, s.desired("snapD", svcs...), 20*time.Second)
	var de *target.DeployError
	if !errors.As(err, &de) || de.Service != "api" {
		t.Fatalf("want a DeployError for api, got %v", err)
	}
	if !strings.Contains(strings.Join(de.LastLines, "\n"), "crashing at start") {
		t.Errorf("last lines %q do not show the crash", de.LastLines)
	}
	s.assertStillB(t)
}

func (s *suite) jobCompletesBeforeDependents(t *testing.T) {
	job := s.svc("migrate", map[string]string{"JOB": "1"})
	job.Health, job.Ports, job.Restart = nil, nil, "no"
	svcs := s.base("b")
	svcs[0].DependsOn = []render.Dependency{{Service: "migrate", Condition: render.ConditionCompleted}}
	d := s.desired("snapE", append([]render.Service{job}, svcs...)...)
	if _, err := s.apply(t, d, 30*time.Second); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	m := s.observe(t).Of("migrate")
	if len(m) != 1 || m[0].State != plan.StateExited || m[0].ExitCode != 0 {
		t.Fatalf("migrate: %+v, want one instance exited 0", m)
	}
	if p := plan.Compute(d, s.observe(t)); !p.Empty() {
		t.Errorf("a completed job is run again:\n%s", p)
	}
}

func (s *suite) restartsCrashedInstance(t *testing.T) {
	flaky := s.svc("flaky", map[string]string{"CRASH": "after:300ms"})
	flaky.Health = nil
	svcs := s.base("b")
	d := s.desired("snapF", append(svcs, flaky)...)
	if _, err := s.apply(t, d, 30*time.Second); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if f := s.observe(t).Of("flaky"); len(f) == 1 && f[0].Restarts >= 2 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("flaky was not restarted twice within 10s: %+v", s.observe(t).Of("flaky"))
}

func (s *suite) publishedPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	before := s.observe(t)
	web := s.svc("web", map[string]string{"VERSION": "web"})
	web.Ports[0].Published = taken
	d := s.desired("snapG", append(s.base("b"), web)...)
	_, err = s.apply(t, d, 10*time.Second)
	var pe *target.PortInUseError
	if !errors.As(err, &pe) || pe.Port != taken || pe.Service != "web" {
		t.Fatalf("want a PortInUseError for web on %d, got %v", taken, err)
	}
	after := s.observe(t)
	if len(after.Instances) != len(before.Instances) || len(after.Of("web")) != 0 {
		t.Errorf("a refused release changed the site:\nbefore %+v\nafter  %+v", before.Instances, after.Instances)
	}
}

func (s *suite) downLeavesNothing(t *testing.T) {
	url := s.endpoint(t, "api")
	if err := s.tgt.Down(s.ctx, s.site, target.DownOptions{Volumes: true}); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if obs := s.observe(t); len(obs.Instances) != 0 {
		t.Errorf("instances left after Down: %+v", obs.Instances)
	}
	if eps := s.tgt.Endpoints(s.site); len(eps) != 0 {
		t.Errorf("endpoints left after Down: %+v", eps)
	}
	c := &http.Client{Timeout: time.Second}
	if resp, err := c.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("%s still answers after Down", url)
	}
	if s.afterDown != nil {
		s.afterDown(t, s.site)
	}
}
