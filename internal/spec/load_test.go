package spec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mustLoad(t *testing.T, dir string, opts LoadOptions) *Project {
	t.Helper()
	p, err := Load(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

// loadDiags loads dir expecting a failure and returns its diagnostics.
func loadDiags(t *testing.T, dir string, opts LoadOptions) Diagnostics {
	t.Helper()
	_, err := Load(context.Background(), dir, opts)
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("want Diagnostics, got %T: %v", err, err)
	}
	return ds
}

func TestMissingFilesAreOneDiagnostic(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  LoadOptions
		want  string
	}{
		{"no stack file", nil, LoadOptions{},
			"compose.yaml: no stack file found: looked for compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml in "},
		{"explicit ladder file", map[string]string{"compose.yaml": "services: {}"}, LoadOptions{LadderFile: "conf/ladder.yaml"},
			"conf/ladder.yaml: ladder file not found"},
		{"explicit stack file", nil, LoadOptions{StackFile: "stack.yaml"},
			"stack.yaml: stack file not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			ds := loadDiags(t, dir, tt.opts)
			if len(ds) != 1 || !strings.HasPrefix(ds[0].String(), tt.want) {
				t.Errorf("got %q, want one diagnostic starting with %q", ds.Error(), tt.want)
			}
		})
	}
}

func TestLoadProjectLayout(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"ladder.yaml": "stack: deploy/stack.yaml\nenvironments:\n  dev: {}\n",
		"deploy/stack.yaml": `services:
  web:
    image: nginx
    ports: ["8080:80"]
    x-ladder:
      health: {path: /health, port: 80}
  db:
    image: postgres
`,
	})
	p := mustLoad(t, dir, LoadOptions{})
	abs, _ := filepath.Abs(dir)
	if p.Dir != abs || p.LadderFile != filepath.Join(abs, "ladder.yaml") {
		t.Errorf("Dir=%q LadderFile=%q", p.Dir, p.LadderFile)
	}
	if p.Stack.File != filepath.Join(abs, "deploy", "stack.yaml") {
		t.Errorf("Stack.File=%q", p.Stack.File)
	}
	if p.Stack.Compose == nil || len(p.Stack.Compose.Services) != 2 {
		t.Fatalf("compose project not loaded: %+v", p.Stack.Compose)
	}
	if p.Stack.Compose.WorkingDir != filepath.Join(abs, "deploy") {
		t.Errorf("compose working dir = %q, want the stack file's directory", p.Stack.Compose.WorkingDir)
	}
	if len(p.Stack.Ext) != 2 || p.Stack.Ext["db"] != (ServiceExt{}) {
		t.Errorf("Ext = %+v, want an entry per service", p.Stack.Ext)
	}
	if h := p.Stack.Ext["web"].Health; h == nil || h.Path != "/health" || h.Port != 80 {
		t.Errorf("web health = %+v", h)
	}
	if p.Stack.Ext["web"].Metrics != nil {
		t.Errorf("metrics must stay nil when not configured")
	}
	e, ok := p.Ladder.Environment("dev")
	if !ok || e.Target != "auto" || e.Health.Timeout != 60*time.Second || e.Telemetry.Interval != 2*time.Second ||
		e.Dashboard != "127.0.0.1:7700" || len(e.Sites) != 1 || e.Sites[0].Name != "default" || p.Ladder.State != ".ladder" {
		t.Errorf("defaults not applied: %+v", e)
	}
}

func TestNoLadderFile(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"docker-compose.yml": "services:\n  web:\n    image: nginx\n"})
	p := mustLoad(t, dir, LoadOptions{})
	abs, _ := filepath.Abs(dir)
	if p.LadderFile != "" || p.Dir != abs || filepath.Base(p.Stack.File) != "docker-compose.yml" {
		t.Errorf("LadderFile=%q Dir=%q Stack.File=%q", p.LadderFile, p.Dir, p.Stack.File)
	}
	if len(p.Ladder.Environments) != 1 || p.Ladder.Environments[0].Name != "local" {
		t.Errorf("want the default local environment, got %+v", p.Ladder.Environments)
	}
}

// Variables come from LoadOptions.Env first, then the OS, then .env.
func TestInterpolationPrecedence(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		".env":         "LADDER_TEST_A=dotenv\nLADDER_TEST_B=dotenv\nLADDER_TEST_C=dotenv\n",
		"compose.yaml": "services:\n  web:\n    image: nginx\n    environment:\n      A: ${LADDER_TEST_A}\n      B: ${LADDER_TEST_B}\n      C: ${LADDER_TEST_C}\n",
	})
	t.Setenv("LADDER_TEST_A", "os")
	t.Setenv("LADDER_TEST_B", "os")
	p := mustLoad(t, dir, LoadOptions{Env: []string{"LADDER_TEST_A=opts"}})
	env := p.Stack.Compose.Services["web"].Environment
	for k, want := range map[string]string{"A": "opts", "B": "os", "C": "dotenv"} {
		if env[k] == nil || *env[k] != want {
			t.Errorf("%s = %v, want %q", k, env[k], want)
		}
	}
}

func TestInterpolatedValuesAreValidated(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: nginx\n    ports: [\"80\"]\n    x-ladder:\n      health:\n        path: ${LADDER_TEST_PATH}\n",
	})
	ds := loadDiags(t, dir, LoadOptions{Env: []string{"LADDER_TEST_PATH=health"}})
	if len(ds) != 1 || ds[0].Path != "services.web.x-ladder.health.path" || ds[0].Line != 7 || ds[0].Col != 15 {
		t.Errorf("got %v", ds)
	}
	writeFiles(t, dir, map[string]string{"ladder.yaml": "environments:\n  local: {}\n"})
	p := mustLoad(t, dir, LoadOptions{Env: []string{"LADDER_TEST_PATH=/health"}})
	if p.Stack.Ext["web"].Health.Path != "/health" {
		t.Errorf("x-ladder not interpolated: %+v", p.Stack.Ext["web"].Health)
	}
}

const hashStackYAML = `services:
  web:
    build:
      context: ./web
    image: web:dev
    ports: ["8080:80"]
    environment:
      MODE: prod
    volumes:
      - ./data:/data
      - cache:/cache
    env_file: web.env
    x-ladder:
      health: {path: /healthz}
  db:
    image: postgres:16
volumes:
  cache: {}
networks:
  back: {}
`

func stackHash(t *testing.T, dir, compose string) string {
	t.Helper()
	writeFiles(t, dir, map[string]string{"compose.yaml": compose, "web.env": "TOKEN=x\n", "web/.keep": "", "other/.keep": ""})
	return mustLoad(t, dir, LoadOptions{}).Stack.Hash
}

func TestStackHash(t *testing.T) {
	base := t.TempDir()
	h1 := stackHash(t, filepath.Join(base, "one"), hashStackYAML)
	h2 := stackHash(t, filepath.Join(base, "checkout", "two"), hashStackYAML)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h1) {
		t.Fatalf("hash %q is not hex sha256", h1)
	}
	if h1 != h2 {
		t.Errorf("same files in two directories hash differently: %s vs %s", h1, h2)
	}
	if h := stackHash(t, filepath.Join(base, "three"), hashStackYAML); h != h1 {
		t.Errorf("hash is not stable: %s vs %s", h, h1)
	}

	changes := map[string][2]string{
		"environment value": {"MODE: prod", "MODE: dev"},
		"container port":    {`"8080:80"`, `"8080:81"`},
		"image":             {"postgres:16", "postgres:17"},
		"x-ladder":          {"/healthz", "/ready"},
		"network":           {"back: {}", "back: {internal: true}"},
	}
	for name, c := range changes {
		changed := strings.Replace(hashStackYAML, c[0], c[1], 1)
		if h := stackHash(t, filepath.Join(base, "change-"+strings.ReplaceAll(name, " ", "-")), changed); h == h1 {
			t.Errorf("changing the %s did not change the hash", name)
		}
	}
	// The host side of a port is an endpoint of the rung, not part of the
	// definition: the same snapshot runs wherever it is published.
	for name, published := range map[string]string{"host port": `"8081:80"`, "host address": `"127.0.0.1:8080:80"`, "no host port": `"80"`} {
		changed := strings.Replace(hashStackYAML, `"8080:80"`, published, 1)
		if h := stackHash(t, filepath.Join(base, "published-"+strings.ReplaceAll(name, " ", "-")), changed); h != h1 {
			t.Errorf("changing the %s changed the hash", name)
		}
	}
	build := strings.Replace(hashStackYAML, "context: ./web", "context: ./other\n      dockerfile: Dockerfile.dev", 1)
	if h := stackHash(t, filepath.Join(base, "build"), build); h != h1 {
		t.Errorf("the build section must not change the hash")
	}
	writeFiles(t, filepath.Join(base, "envfile"), map[string]string{"web.env": "TOKEN=y\n"})
	p := mustLoad(t, filepath.Join(base, "envfile"), LoadOptions{StackFile: filepath.Join(base, "one", "compose.yaml")})
	if p.Stack.Hash != h1 {
		t.Errorf("explicit stack file elsewhere hashes differently")
	}
}

func TestStackHashSeesEnvFileContent(t *testing.T) {
	base := t.TempDir()
	h1 := stackHash(t, filepath.Join(base, "a"), hashStackYAML)
	dir := filepath.Join(base, "b")
	writeFiles(t, dir, map[string]string{"compose.yaml": hashStackYAML, "web.env": "TOKEN=other\n", "web/.keep": ""})
	if h := mustLoad(t, dir, LoadOptions{}).Stack.Hash; h == h1 {
		t.Errorf("a different env_file content must change the hash")
	}
}

func TestRegistryIsAnAddressOrAMapping(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("compose.yaml", "services:\n  web:\n    image: nginx\n")
	write("ladder.yaml", "environments:\n  local: {}\n  dev:\n    from: local\n    registry: 127.0.0.1:5000/team\n  prod:\n    from: dev\n    registry: {address: reg.example.com, insecure: true}\n")
	p, err := Load(context.Background(), dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	local, _ := p.Ladder.Environment("local")
	dev, _ := p.Ladder.Environment("dev")
	prod, _ := p.Ladder.Environment("prod")
	if local.Registry != nil {
		t.Errorf("local has registry %+v, want none", local.Registry)
	}
	if dev.Registry == nil || *dev.Registry != (Registry{Address: "127.0.0.1:5000/team"}) {
		t.Errorf("dev registry %+v", dev.Registry)
	}
	if prod.Registry == nil || *prod.Registry != (Registry{Address: "reg.example.com", Insecure: true}) {
		t.Errorf("prod registry %+v", prod.Registry)
	}
}

// LocateState tells the state directory from ladder.yaml alone, as a full
// load does; it declines what it cannot tell cheaply.
func TestLocateStateAgreesWithLoad(t *testing.T) {
	for _, tc := range []struct {
		name, ladder string
	}{
		{"default", "stack: compose.yaml\nenvironments:\n  local: {}\n"},
		{"relative", "stack: compose.yaml\nstate: var/ladder\nenvironments:\n  local: {}\n"},
		{"none", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  web:\n    image: busybox\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.ladder != "" {
				if err := os.WriteFile(filepath.Join(dir, "ladder.yaml"), []byte(tc.ladder), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p, err := Load(t.Context(), dir, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := p.Ladder.State
			if !filepath.IsAbs(want) {
				want = filepath.Join(p.Dir, want)
			}
			pd, sd, ok := LocateState(dir, LoadOptions{})
			if !ok || pd != p.Dir || sd != want {
				t.Errorf("LocateState = %s, %s, %v; a load says %s, %s", pd, sd, ok, p.Dir, want)
			}
		})
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ladder.yaml"), []byte("state: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := LocateState(dir, LoadOptions{}); ok {
		t.Error("LocateState answered for a ladder.yaml that does not parse")
	}
}
