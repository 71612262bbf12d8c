package render

import (
	"context"
	"errors"
	"fmt"
	"github.com/ladderhq/ladder/internal/golden"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
)

// checkGolden compares got with testdata/NAME.golden, rewriting the file
// instead when -update is given.

// digest makes a well-formed fake digest from one hex digit.
func digest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

var demoDigests = map[string]string{
	"notifications": digest("1"),
	"trades":        digest("2"),
	"users":         digest("3"),
	"web":           digest("4"),
	"db":            digest("5"),
	"migrate":       digest("6"),
}

var snapCreated = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeSnapshot makes a snapshot of stack with the given digests. The stack
// hash is fixed so the snapshot ID depends only on the name and digests.
func fakeSnapshot(stack string, digests map[string]string) *snapshot.Snapshot {
	arts := map[string]snapshot.Artifact{}
	for svc, d := range digests {
		arts[svc] = snapshot.Artifact{Service: svc, Digest: d, Builder: "go"}
	}
	return snapshot.New(stack, "fixed-stack-hash", arts, "", snapCreated)
}

// fakeImages is the image of every artifact: a static binary at /app.
func fakeImages(string) (Image, error) {
	return Image{Entrypoint: []string{"/app"}, Env: []string{"PATH=/"}, WorkingDir: "/"}, nil
}

func loadDemo(t *testing.T) *spec.Project {
	t.Helper()
	p, err := spec.Load(context.Background(), filepath.Join("..", "..", "examples", "trading"), spec.LoadOptions{Env: []string{"WEB_PORT=3000"}})
	if err != nil {
		t.Fatalf("loading the demo stack: %v", err)
	}
	return p
}

// writeProject writes files into a fresh directory and loads it.
func writeProject(t *testing.T, files map[string]string) *spec.Project {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "proj")
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := spec.Load(context.Background(), dir, spec.LoadOptions{})
	if err != nil {
		t.Fatalf("loading the test project: %v", err)
	}
	return p
}

// snapshotFor gives every service of p a digest: digests[name] when set,
// else one derived from its position.
func snapshotFor(p *spec.Project, digests map[string]string) *snapshot.Snapshot {
	all := map[string]string{}
	for i, name := range slices.Sorted(maps.Keys(p.Stack.Compose.Services)) {
		all[name] = digest(fmt.Sprintf("%x", (i+5)%16))
	}
	for k, v := range digests {
		all[k] = v
	}
	return fakeSnapshot(p.Stack.Name, all)
}

func mustRender(t *testing.T, p *spec.Project, env, site string, snap *snapshot.Snapshot, images ImageLookup) *Desired {
	t.Helper()
	d, err := Render(p, env, site, snap, images)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return d
}

const overlayCompose = `name: overlay
services:
  api:
    build: ./api
    ports: ["8080"]
    environment:
      LOG_LEVEL: info
      SEED: "42"
    x-ladder:
      health: {path: /healthz}
  worker:
    build: ./worker
    environment:
      QUEUE: jobs
`

const overlayLadder = `environments:
  dev:
    values:
      services:
        api:
          replicas: 3
          environment:
            LOG_LEVEL: debug
            EXTRA: "yes"
        worker:
          environment:
            PATH: /usr/bin
  prod:
    sites:
      - name: east
`

const overridesCompose = `name: overrides
services:
  db:
    build: ./db
    entrypoint: ["/bin/db", "--data", "/var/db"]
    restart: always
    stop_grace_period: 1m30s
    ports: ["5432:5432"]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -q", "&& true"]
      interval: 3s
      timeout: 1s
      retries: 5
      start_period: 10s
  migrate:
    build: ./migrate
    command: ["migrate", "--up"]
    restart: "no"
    healthcheck:
      test: ["NONE"]
    depends_on:
      db: {condition: service_healthy}
  api:
    build: ./api
    entrypoint: /bin/api
    command: serve --port 8080
    working_dir: /srv
    restart: unless-stopped
    stop_grace_period: 2s
    ports:
      - "8080"
      - target: 9090
        protocol: udp
    healthcheck:
      test: ["CMD", "/bin/api", "check"]
    x-ladder:
      health: {path: /ready, port: 8080}
      metrics: {path: /metrics, port: 9090}
    depends_on:
      migrate: {condition: service_completed_successfully}
      db:
        condition: service_started
  cron:
    build: ./cron
    restart: on-failure
    healthcheck:
      disable: true
    depends_on: [api]
`

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name    string
		project func(t *testing.T) *spec.Project
		snap    func(p *spec.Project) *snapshot.Snapshot
		env     string
		site    string
	}{
		{
			name:    "demo",
			project: loadDemo,
			snap:    func(p *spec.Project) *snapshot.Snapshot { return fakeSnapshot(p.Stack.Name, demoDigests) },
			env:     "local", site: "default",
		},
		{
			name: "values_overlay",
			project: func(t *testing.T) *spec.Project {
				return writeProject(t, map[string]string{"compose.yaml": overlayCompose, "ladder.yaml": overlayLadder})
			},
			snap: func(p *spec.Project) *snapshot.Snapshot { return snapshotFor(p, nil) },
			env:  "dev", site: "default",
		},
		{
			name: "values_overlay_prod",
			project: func(t *testing.T) *spec.Project {
				return writeProject(t, map[string]string{"compose.yaml": overlayCompose, "ladder.yaml": overlayLadder})
			},
			snap: func(p *spec.Project) *snapshot.Snapshot { return snapshotFor(p, nil) },
			env:  "prod", site: "east",
		},
		{
			name: "overrides",
			project: func(t *testing.T) *spec.Project {
				return writeProject(t, map[string]string{"compose.yaml": overridesCompose})
			},
			snap: func(p *spec.Project) *snapshot.Snapshot { return snapshotFor(p, nil) },
			env:  spec.DefaultEnvName, site: spec.DefaultSite,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.project(t)
			d := mustRender(t, p, tt.env, tt.site, tt.snap(p), fakeImages)
			got := d.String()
			checkGolden(t, tt.name, got)
			// A render is a pure function of its inputs.
			for range 10 {
				if again := mustRender(t, p, tt.env, tt.site, tt.snap(p), fakeImages).String(); again != got {
					t.Fatalf("a second render differs:\n%s\nvs\n%s", again, got)
				}
			}
		})
	}
}

// TestRenderDemoFields pins the demo's render field by field, so a golden
// file accepted by mistake is still caught.
func TestRenderDemoFields(t *testing.T) {
	p := loadDemo(t)
	snap := fakeSnapshot(p.Stack.Name, demoDigests)
	d := mustRender(t, p, "local", "default", snap, fakeImages)

	if d.Env != "local" || d.Site != "default" || d.Stack != "trading" || d.Snapshot != snap.ID {
		t.Errorf("header = %s stack %s snapshot %s, want local/default stack trading snapshot %s", d.SiteRef, d.Stack, d.Snapshot, snap.ID)
	}
	var names []string
	for _, s := range d.Services {
		names = append(names, s.Name)
	}
	if got, want := strings.Join(names, " "), "db migrate notifications users trades web"; got != want {
		t.Fatalf("service order = %s, want %s", got, want)
	}
	web, _ := d.Service("web")
	if web.Digest != demoDigests["web"] {
		t.Errorf("web digest = %s, want %s", web.Digest, demoDigests["web"])
	}
	if !slices.Equal(web.Entrypoint, []string{"/app"}) || web.Command != nil || web.WorkingDir != "/" {
		t.Errorf("web argv = %q %q in %q, want [/app] [] in /", web.Entrypoint, web.Command, web.WorkingDir)
	}
	wantEnv := map[string]string{"PATH": "/", "SEED": "42", "USERS_URL": "http://users:8080", "TRADES_URL": "http://trades:8080"}
	if fmt.Sprint(web.Environment) != fmt.Sprint(wantEnv) {
		t.Errorf("web env = %v, want %v", web.Environment, wantEnv)
	}
	if want := []Port{{Target: 8080, Published: 3000, Protocol: "tcp"}}; !slices.Equal(web.Ports, want) {
		t.Errorf("web ports = %+v, want %+v", web.Ports, want)
	}
	users, _ := d.Service("users")
	if want := []Port{{Target: 8080, Protocol: "tcp"}}; !slices.Equal(users.Ports, want) {
		t.Errorf("users ports = %+v, want %+v", users.Ports, want)
	}
	wantHealth := Health{
		HTTP:     &Endpoint{Path: "/healthz", Port: 8080},
		Command:  []string{"/app", "-healthcheck"},
		Interval: 5 * time.Second, Timeout: 10 * time.Second, Retries: 3,
	}
	if h := web.Health; h == nil || *h.HTTP != *wantHealth.HTTP || !slices.Equal(h.Command, wantHealth.Command) ||
		h.Interval != wantHealth.Interval || h.Timeout != wantHealth.Timeout || h.Retries != wantHealth.Retries || h.StartPeriod != 0 {
		t.Errorf("web health = %+v, want %+v", web.Health, wantHealth)
	}
	if web.Metrics == nil || *web.Metrics != (Endpoint{Path: "/metrics", Port: 8080}) {
		t.Errorf("web metrics = %+v, want /metrics on 8080", web.Metrics)
	}
	wantDeps := []Dependency{{"trades", ConditionHealthy}, {"users", ConditionHealthy}}
	if !slices.Equal(web.DependsOn, wantDeps) {
		t.Errorf("web depends on %+v, want %+v", web.DependsOn, wantDeps)
	}
	if web.Restart != "unless-stopped" || web.StopGrace != DefaultStopGrace || web.Replicas != 1 {
		t.Errorf("web restart %q grace %s replicas %d, want unless-stopped 10s 1", web.Restart, web.StopGrace, web.Replicas)
	}
	for _, s := range d.Services {
		if s.Config != ConfigHash(s) || !snapshot.ValidID(s.Config) {
			t.Errorf("%s: Config %q is not ConfigHash of the service (%s)", s.Name, s.Config, ConfigHash(s))
		}
	}
	if d.Job("users") || d.Job("web") {
		t.Errorf("no demo service is a job")
	}
}

func TestRenderOverlay(t *testing.T) {
	p := writeProject(t, map[string]string{"compose.yaml": overlayCompose, "ladder.yaml": overlayLadder})
	snap := snapshotFor(p, nil)
	dev := mustRender(t, p, "dev", "default", snap, fakeImages)
	prod := mustRender(t, p, "prod", "east", snap, fakeImages)

	devAPI, _ := dev.Service("api")
	prodAPI, _ := prod.Service("api")
	if devAPI.Replicas != 3 || prodAPI.Replicas != 1 {
		t.Errorf("api replicas dev=%d prod=%d, want 3 and 1", devAPI.Replicas, prodAPI.Replicas)
	}
	wantDev := map[string]string{"PATH": "/", "LOG_LEVEL": "debug", "SEED": "42", "EXTRA": "yes"}
	if fmt.Sprint(devAPI.Environment) != fmt.Sprint(wantDev) {
		t.Errorf("dev api env = %v, want %v", devAPI.Environment, wantDev)
	}
	wantProd := map[string]string{"PATH": "/", "LOG_LEVEL": "info", "SEED": "42"}
	if fmt.Sprint(prodAPI.Environment) != fmt.Sprint(wantProd) {
		t.Errorf("prod api env = %v, want %v", prodAPI.Environment, wantProd)
	}
	// Values override the image's environment too.
	devWorker, _ := dev.Service("worker")
	if devWorker.Environment["PATH"] != "/usr/bin" || devWorker.Environment["QUEUE"] != "jobs" {
		t.Errorf("dev worker env = %v, want PATH=/usr/bin QUEUE=jobs", devWorker.Environment)
	}
	if devAPI.Health == nil || devAPI.Health.HTTP == nil || devAPI.Health.Interval != DefaultHTTPInterval ||
		devAPI.Health.Timeout != DefaultHTTPTimeout || devAPI.Health.Retries != DefaultRetries || devAPI.Health.Command != nil {
		t.Errorf("api health = %+v, want an HTTP probe with the HTTP defaults", devAPI.Health)
	}
	if devWorker.Health != nil || devWorker.Ports != nil || devWorker.Metrics != nil {
		t.Errorf("worker health %+v ports %+v metrics %+v, want none", devWorker.Health, devWorker.Ports, devWorker.Metrics)
	}
}

func TestRenderOverrides(t *testing.T) {
	p := writeProject(t, map[string]string{"compose.yaml": overridesCompose})
	d := mustRender(t, p, "local", "default", snapshotFor(p, nil), fakeImages)

	type want struct {
		entrypoint, command []string
		workingDir          string
		health              *Health
		restart             string
		grace               time.Duration
		deps                []Dependency
		ports               []Port
	}
	tests := map[string]want{
		"db": {
			entrypoint: []string{"/bin/db", "--data", "/var/db"}, command: nil, workingDir: "/",
			health:  &Health{Command: []string{"/bin/sh", "-c", "pg_isready -q && true"}, Interval: 3 * time.Second, Timeout: time.Second, Retries: 5, StartPeriod: 10 * time.Second},
			restart: "always", grace: 90 * time.Second,
			ports: []Port{{Target: 5432, Published: 5432, Protocol: "tcp"}},
		},
		"migrate": {
			entrypoint: []string{"/app"}, command: []string{"migrate", "--up"}, workingDir: "/",
			restart: "no", grace: DefaultStopGrace,
			deps: []Dependency{{"db", ConditionHealthy}},
		},
		"api": {
			entrypoint: []string{"/bin/api"}, command: []string{"serve", "--port", "8080"}, workingDir: "/srv",
			// The HTTP probe's quicker defaults stay: the Compose check
			// adds its command but sets no timing.
			health:  &Health{HTTP: &Endpoint{Path: "/ready", Port: 8080}, Command: []string{"/bin/api", "check"}, Interval: DefaultHTTPInterval, Timeout: DefaultHTTPTimeout, Retries: DefaultRetries},
			restart: "unless-stopped", grace: 2 * time.Second,
			deps:  []Dependency{{"db", ConditionStarted}, {"migrate", ConditionCompleted}},
			ports: []Port{{Target: 8080, Protocol: "tcp"}, {Target: 9090, Protocol: "udp"}},
		},
		"cron": {
			entrypoint: []string{"/app"}, workingDir: "/",
			restart: "on-failure", grace: DefaultStopGrace,
			deps: []Dependency{{"api", ConditionStarted}},
		},
	}
	for name, w := range tests {
		t.Run(name, func(t *testing.T) {
			s, ok := d.Service(name)
			if !ok {
				t.Fatalf("service %s not rendered", name)
			}
			if !slices.Equal(s.Entrypoint, w.entrypoint) || !slices.Equal(s.Command, w.command) || s.WorkingDir != w.workingDir {
				t.Errorf("argv = %q %q in %q, want %q %q in %q", s.Entrypoint, s.Command, s.WorkingDir, w.entrypoint, w.command, w.workingDir)
			}
			if fmt.Sprintf("%+v", deref(s.Health)) != fmt.Sprintf("%+v", deref(w.health)) {
				t.Errorf("health = %+v, want %+v", deref(s.Health), deref(w.health))
			}
			if s.Restart != w.restart || s.StopGrace != w.grace {
				t.Errorf("restart %q grace %s, want %q %s", s.Restart, s.StopGrace, w.restart, w.grace)
			}
			if !slices.Equal(s.DependsOn, w.deps) {
				t.Errorf("depends on %+v, want %+v", s.DependsOn, w.deps)
			}
			if !slices.Equal(s.Ports, w.ports) {
				t.Errorf("ports %+v, want %+v", s.Ports, w.ports)
			}
		})
	}
	api, _ := d.Service("api")
	if api.Metrics == nil || *api.Metrics != (Endpoint{Path: "/metrics", Port: 9090}) {
		t.Errorf("api metrics = %+v, want /metrics on 9090", api.Metrics)
	}
	if !d.Job("migrate") || d.Job("db") || d.Job("api") || d.Job("nope") {
		t.Errorf("Job: migrate=%v db=%v api=%v nope=%v, want only migrate", d.Job("migrate"), d.Job("db"), d.Job("api"), d.Job("nope"))
	}
}

func deref(h *Health) string {
	if h == nil {
		return "<nil>"
	}
	http := "<nil>"
	if h.HTTP != nil {
		http = fmt.Sprintf("%+v", *h.HTTP)
	}
	return fmt.Sprintf("http=%s command=%q interval=%s timeout=%s retries=%d start=%s", http, h.Command, h.Interval, h.Timeout, h.Retries, h.StartPeriod)
}

// Compose allows "on-failure:N" (at most N restarts); Desired.Restart
// promises one of the four bare policies, which is all the targets know.
func TestRenderRestartOnFailureWithCount(t *testing.T) {
	p := writeProject(t, map[string]string{"compose.yaml": `name: r
services:
  a:
    build: ./a
    restart: on-failure:3
`})
	d := mustRender(t, p, "local", "default", snapshotFor(p, nil), fakeImages)
	if got, max := d.Services[0].Restart, d.Services[0].MaxRestarts; got != "on-failure" || max != 3 {
		t.Fatalf("Restart = %q, MaxRestarts = %d, want on-failure at most 3 times", got, max)
	}
}

const errorsCompose = `name: errs
services:
  a:
    build: ./a
    environment:
      LADDER_SITE: mine
  b:
    build: ./b
  c:
    build: ./c
  d:
    build: ./d
  e:
    build: ./e
`

const errorsLadder = `environments:
  dev:
    values:
      services:
        c:
          environment:
            LADDER_SNAPSHOT: forced
  prod: {}
`

var errBroken = errors.New("image manifest not found")

func TestRenderErrors(t *testing.T) {
	p := writeProject(t, map[string]string{"compose.yaml": errorsCompose, "ladder.yaml": errorsLadder})
	full := snapshotFor(p, nil)
	// b is missing from this snapshot; d's image cannot be read.
	partial := snapshotFor(p, nil)
	delete(partial.Artifacts, "b")
	partial.ID = partial.ComputeID()
	broken := full.Artifacts["d"].Digest
	images := func(dg string) (Image, error) {
		if dg == broken {
			return Image{}, errBroken
		}
		return fakeImages(dg)
	}
	noValues := writeProject(t, map[string]string{"compose.yaml": "name: plain\nservices:\n  a:\n    build: ./a\n"})

	tests := []struct {
		name    string
		p       *spec.Project
		env     string
		snap    *snapshot.Snapshot
		images  ImageLookup
		want    []string // every error, in service order
		wrapped error
	}{
		{
			name: "all at once", p: p, env: "dev", snap: partial, images: images,
			want: []string{
				`service "a": environment variable LADDER_SITE is reserved: ladder sets LADDER_* on every instance`,
				`service "b": snapshot ` + partial.ID[:12] + ` has no artifact for it (it was made before the service had a build section or an image)`,
				`service "c": environment variable LADDER_SNAPSHOT is reserved: ladder sets LADDER_* on every instance`,
				`service "d": image manifest not found`,
			},
			wrapped: errBroken,
		},
		{
			name: "reserved variables set by the stack and by values", p: p, env: "dev", snap: full, images: fakeImages,
			want: []string{
				`service "a": environment variable LADDER_SITE is reserved: ladder sets LADDER_* on every instance`,
				`service "c": environment variable LADDER_SNAPSHOT is reserved: ladder sets LADDER_* on every instance`,
			},
		},
		{
			name: "reserved variable set by the stack only", p: p, env: "prod", snap: full, images: fakeImages,
			want: []string{`service "a": environment variable LADDER_SITE is reserved: ladder sets LADDER_* on every instance`},
		},
		{
			name: "unknown environment", p: p, env: "other", snap: full, images: fakeImages,
			want: []string{`environment "other" is not defined in ` + p.LadderFile},
		},
		{
			name: "unknown environment without ladder.yaml", p: noValues, env: "prod", snap: snapshotFor(noValues, nil), images: fakeImages,
			want: []string{`environment "prod" is not defined in the default ladder (no ladder.yaml)`},
		},
		{
			name: "image lookup error only", p: noValues, env: "local", snap: snapshotFor(noValues, nil),
			images:  func(string) (Image, error) { return Image{}, errBroken },
			want:    []string{`service "a": image manifest not found`},
			wrapped: errBroken,
		},
		{
			name: "missing artifact only", p: noValues, env: "local", snap: fakeSnapshot("plain", map[string]string{"z": digest("9")}), images: fakeImages,
			want: []string{`service "a": snapshot ` + fakeSnapshot("plain", map[string]string{"z": digest("9")}).ID[:12] + ` has no artifact for it (it was made before the service had a build section or an image)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Render(tt.p, tt.env, "default", tt.snap, tt.images)
			if err == nil {
				t.Fatalf("Render succeeded:\n%s", d)
			}
			if d != nil {
				t.Errorf("Render returned a Desired with its error")
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
			if tt.wrapped != nil && !errors.Is(err, tt.wrapped) {
				t.Errorf("errors.Is(err, %v) = false: the lookup's error is not wrapped", tt.wrapped)
			}
		})
	}
}

// The reserved prefix is a prefix match on the name only.
func TestRenderReservedPrefix(t *testing.T) {
	p := writeProject(t, map[string]string{"compose.yaml": `name: pre
services:
  a:
    build: ./a
    environment:
      MY_LADDER_X: "1"
      ladder_lower: "2"
      LADDER: "3"
`})
	d := mustRender(t, p, "local", "default", snapshotFor(p, nil), fakeImages)
	if got := d.Services[0].Environment; got["MY_LADDER_X"] != "1" || got["ladder_lower"] != "2" || got["LADDER"] != "3" {
		t.Errorf("environment = %v", got)
	}
	// The image's environment is checked as well.
	_, err := Render(p, "local", "default", snapshotFor(p, nil), func(string) (Image, error) {
		return Image{Env: []string{"LADDER_ENVIRONMENT=x"}}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "LADDER_ENVIRONMENT is reserved") {
		t.Errorf("image setting LADDER_ENVIRONMENT: err = %v, want it reserved", err)
	}
}

// Two problems in one service must come out in the same order every time,
// like every other diagnostic of ladder.
func TestRenderErrorsAreStable(t *testing.T) {
	p := writeProject(t, map[string]string{"compose.yaml": `name: two
services:
  a:
    build: ./a
    environment:
      LADDER_A: "1"
      LADDER_B: "2"
      LADDER_C: "3"
      LADDER_D: "4"
`})
	snap := snapshotFor(p, nil)
	_, err := Render(p, "local", "default", snap, fakeImages)
	if err == nil {
		t.Fatal("Render succeeded")
	}
	first := err.Error()
	for range 50 {
		_, err := Render(p, "local", "default", snap, fakeImages)
		if err.Error() != first {
			t.Fatalf("the same render failed differently:\n%s\nthen:\n%s", first, err)
		}
	}
}

// x-ladder.health without a port on a service that publishes none. spec.Load
// refuses such a stack already, so the extension is set after loading.
func TestRenderHealthNeedsPort(t *testing.T) {
	p := writeProject(t, map[string]string{"compose.yaml": `name: hp
services:
  a:
    build: ./a
`})
	p.Stack.Ext["a"] = spec.ServiceExt{Health: &spec.HTTPProbe{Path: "/healthz"}}
	_, err := Render(p, "local", "default", snapshotFor(p, nil), fakeImages)
	want := `service "a": x-ladder.health needs a port: the service declares none`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

const configCompose = `name: cfg
services:
  api:
    build: ./api
    environment:
      MODE: fast
`

func TestConfigHash(t *testing.T) {
	p := writeProject(t, map[string]string{"compose.yaml": configCompose, "ladder.yaml": `environments:
  one:
    values:
      services:
        api: {replicas: 1}
  three:
    values:
      services:
        api: {replicas: 3}
  slow:
    values:
      services:
        api:
          environment: {MODE: slow}
  zero:
    values:
      services:
        api: {replicas: 0}
`})
	snap := snapshotFor(p, map[string]string{"api": digest("a")})
	render := func(env string, snap *snapshot.Snapshot) Service {
		return mustRender(t, p, env, "default", snap, fakeImages).Services[0]
	}
	one, three, zero := render("one", snap), render("three", snap), render("zero", snap)
	if one.Replicas != 1 || three.Replicas != 3 || zero.Replicas != 0 {
		t.Fatalf("replicas %d %d %d, want 1 3 0", one.Replicas, three.Replicas, zero.Replicas)
	}
	if one.Config != three.Config || one.Config != zero.Config {
		t.Errorf("Config differs with replicas only: %s %s %s", one.Config, three.Config, zero.Config)
	}
	if slow := render("slow", snap); slow.Config == one.Config {
		t.Errorf("Config unchanged when MODE changed: %s", slow.Config)
	}
	other := snapshotFor(p, map[string]string{"api": digest("b")})
	if moved := render("one", other); moved.Config == one.Config {
		t.Errorf("Config unchanged when the digest changed: %s", moved.Config)
	}
	// Site and environment names are not part of a service's config: the
	// same service renders the same config on every site.
	if again := mustRender(t, p, "one", "elsewhere", snap, fakeImages).Services[0]; again.Config != one.Config {
		t.Errorf("Config depends on the site: %s vs %s", again.Config, one.Config)
	}

	// ConfigHash itself, field by field.
	base := one
	tests := []struct {
		name   string
		change func(s *Service)
		same   bool
	}{
		{"replicas", func(s *Service) { s.Replicas = 7 }, true},
		{"config field", func(s *Service) { s.Config = "whatever" }, true},
		{"digest", func(s *Service) { s.Digest = digest("c") }, false},
		{"name", func(s *Service) { s.Name = "api2" }, false},
		{"entrypoint", func(s *Service) { s.Entrypoint = []string{"/other"} }, false},
		{"command", func(s *Service) { s.Command = []string{"x"} }, false},
		{"working dir", func(s *Service) { s.WorkingDir = "/tmp" }, false},
		{"env value", func(s *Service) { s.Environment = map[string]string{"MODE": "slow", "PATH": "/"} }, false},
		{"env map rebuilt in another order", func(s *Service) { s.Environment = map[string]string{"PATH": "/", "MODE": "fast"} }, true},
		{"port", func(s *Service) { s.Ports = []Port{{Target: 1, Protocol: "tcp"}} }, false},
		{"health", func(s *Service) { s.Health = &Health{Command: []string{"true"}} }, false},
		{"metrics", func(s *Service) { s.Metrics = &Endpoint{Path: "/m", Port: 1} }, false},
		{"depends on", func(s *Service) { s.DependsOn = []Dependency{{"db", ConditionStarted}} }, false},
		{"restart", func(s *Service) { s.Restart = "always" }, false},
		{"stop grace", func(s *Service) { s.StopGrace = time.Second }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			s.Environment = map[string]string{"MODE": "fast", "PATH": "/"}
			tt.change(&s)
			if got := ConfigHash(s) == base.Config; got != tt.same {
				t.Errorf("ConfigHash unchanged = %v, want %v", got, tt.same)
			}
		})
	}
}

func TestDependencyOrder(t *testing.T) {
	tests := []struct {
		name    string
		compose string
		want    string
	}{
		{
			name: "independent services by name",
			compose: `name: o
services:
  zeta: {build: ./z}
  alpha: {build: ./a}
  mid: {build: ./m}
`,
			want: "alpha mid zeta",
		},
		{
			// Names are taken in order and each pulls in its dependencies
			// (themselves by name) just before it.
			name: "chain pulled in ahead of its dependent",
			compose: `name: o
services:
  a:
    build: ./a
    depends_on: [m]
  b: {build: ./b}
  m:
    build: ./m
    depends_on: [z]
  z: {build: ./z}
`,
			want: "z m a b",
		},
		{
			name: "diamond",
			compose: `name: o
services:
  web:
    build: ./w
    depends_on: [users, trades]
  trades:
    build: ./t
    depends_on: [users, notifications]
  users: {build: ./u}
  notifications: {build: ./n}
`,
			want: "notifications users trades web",
		},
		{
			name: "dependencies of one service by name",
			compose: `name: o
services:
  app:
    build: ./app
    depends_on:
      zcache: {condition: service_started}
      db: {condition: service_healthy}
      queue: {condition: service_started}
  zcache: {build: ./z}
  db: {build: ./d}
  queue: {build: ./q}
`,
			want: "db queue zcache app",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeProject(t, map[string]string{"compose.yaml": tt.compose})
			d := mustRender(t, p, "local", "default", snapshotFor(p, nil), fakeImages)
			var names []string
			pos := map[string]int{}
			for i, s := range d.Services {
				names = append(names, s.Name)
				pos[s.Name] = i
			}
			if got := strings.Join(names, " "); got != tt.want {
				t.Errorf("order = %s, want %s", got, tt.want)
			}
			for _, s := range d.Services {
				for _, dep := range s.DependsOn {
					if pos[dep.Service] >= pos[s.Name] {
						t.Errorf("%s comes before its dependency %s", s.Name, dep.Service)
					}
				}
			}
		})
	}
}

func TestDesiredService(t *testing.T) {
	d := &Desired{Services: []Service{{Name: "a", Replicas: 1}, {Name: "b", Replicas: 2}}}
	s, ok := d.Service("b")
	if !ok || s.Replicas != 2 {
		t.Fatalf("Service(b) = %+v, %v", s, ok)
	}
	s.Replicas = 5 // a pointer into the desired state
	if d.Services[1].Replicas != 5 {
		t.Errorf("Service returned a copy")
	}
	if s, ok := d.Service("c"); ok || s != nil {
		t.Errorf("Service(c) = %+v, %v; want nil, false", s, ok)
	}
	if got := (SiteRef{Env: "dev", Site: "east"}).String(); got != "dev/east" {
		t.Errorf("SiteRef.String() = %q", got)
	}
}

func checkGolden(t *testing.T, name, got string) { golden.Check(t, name, got) }
