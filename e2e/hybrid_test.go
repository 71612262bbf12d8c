package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// debianImages builds the Debian images the test stacks run (only when
// the engine lacks them), with the repository's script.
func debianImages(t *testing.T) {
	t.Helper()
	requireDocker(t)
	script := filepath.Join(repoRoot(), "scripts", "debian-image.sh")
	for _, args := range [][]string{{"ladder.local/debian:bookworm"}, {"ladder.local/postgres:15", "postgresql-15"}} {
		if out, err := exec.Command(script, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", script, args, err, out)
		}
	}
}

// hybridAPI is a Go service that answers /healthz and, on /db, queries
// the PostgreSQL that DATABASE_URL names (by service name).
const hybridAPI = `package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	http.HandleFunc("/db", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, os.Getenv("DATABASE_URL"))
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT 40 + 2").Scan(&n); err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		fmt.Fprintf(w, "db says %d", n)
	})
	http.ListenAndServe(":"+os.Getenv("PORT"), nil)
}
`

// hybridCompose: api is built by ladder as a static binary (native);
// db (PostgreSQL) and probe (bash) run images (engine). probe's health
// check reaches api by name from its container; api reaches db by name
// from its process; db is published on a fixed host port.
const hybridCompose = `name: %s
services:
  api:
    build: ./api
    ports: ["8080"]
    environment:
      DATABASE_URL: postgres://postgres@db:5432/postgres?sslmode=disable
  db:
    image: ladder.local/postgres:15
    ports: ["${DB_PORT:-15432}:5432"]
    stop_grace_period: 2s
    command:
      - bash
      - -c
      - |
        su postgres -c '/usr/lib/postgresql/15/bin/initdb -D /tmp/pg -A trust' >/dev/null &&
        echo 'host all all 0.0.0.0/0 trust' >> /tmp/pg/pg_hba.conf &&
        exec su postgres -c "/usr/lib/postgresql/15/bin/postgres -D /tmp/pg -c listen_addresses='*' -c unix_socket_directories=/tmp"
  probe:
    image: ladder.local/debian:bookworm
    stop_grace_period: 1s
    depends_on:
      api: {condition: service_started}
    command: ["sleep", "infinity"]
    healthcheck:
      test: ["CMD", "bash", "-c", "exec 3<>/dev/tcp/api/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ok <&3"]
      interval: 1s
      timeout: 3s
      retries: 30
`

// TestHybridMixedStack runs a Go service natively beside PostgreSQL and a
// bash container on the process target: each side reaches the other by
// service name, status says where each runs, drift is clean, the fixed
// host port is honoured and down removes both halves.
func TestHybridMixedStack(t *testing.T) {
	debianImages(t)
	root := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		copyFile(t, filepath.Join(repoRoot(), f), filepath.Join(root, f))
	}
	dir := filepath.Join(root, "mix")
	stack := fmt.Sprintf("mix%d", time.Now().UnixNano()%1_000_000_000)
	dbPort := freePort(t)
	p := &project{t: t, root: root, dir: dir, kind: "process",
		env: []string{"LADDER_TARGET=process", fmt.Sprintf("DB_PORT=%d", dbPort)}}
	if err := os.MkdirAll(filepath.Join(dir, "api"), 0o755); err != nil {
		t.Fatal(err)
	}
	p.write("api/main.go", hybridAPI)
	p.write("compose.yaml", fmt.Sprintf(hybridCompose, stack))
	p.write("ladder.yaml", "stack: compose.yaml\nenvironments:\n  local:\n    target: process\n    dashboard: 127.0.0.1:0\n")
	project := stack + "-local-default"
	t.Cleanup(func() {
		p.run("down")
		if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+project).Output(); len(out) > 0 {
			exec.Command("docker", append([]string{"rm", "-f"}, strings.Fields(string(out))...)...).Run()
		}
		removeImages(t, stack+"-")
	})

	// validate names no process-target warning for the containers'
	// fields (stop_grace_period, healthcheck apply there).
	if res := p.run("validate"); res.code != 0 || strings.Contains(res.stderr, "services.db") || strings.Contains(res.stderr, "services.probe") {
		t.Fatalf("validate: %s", res)
	}

	up := p.upJSON("-d")
	if up.Status.Target != "process" {
		t.Errorf("target %q, want process", up.Status.Target)
	}
	// Status: where each service runs, text and JSON.
	st, res := p.status()
	if res.code != 0 {
		t.Fatalf("status: %s", res)
	}
	for name, want := range map[string]string{"api": "native", "db": "engine", "probe": "engine"} {
		svc, ok := serviceOf(st, name)
		if !ok || svc.Runs != want {
			t.Errorf("status: %s runs %q, want %q (%+v)", name, svc.Runs, want, svc)
		}
	}
	if res := p.run("status"); !strings.Contains(res.stdout, "RUNS") || !strings.Contains(res.stdout, "native") || !strings.Contains(res.stdout, "engine") {
		t.Errorf("status text does not say where services run:\n%s", res.stdout)
	}
	// The release's deploy.started event records it too.
	recorded := false
	for _, e := range st.Events {
		recorded = recorded || e.Kind == store.EventDeployStarted && e.Attrs["runs.db"] == "engine" && e.Attrs["runs.api"] == "native"
	}
	if !recorded {
		t.Errorf("no deploy.started event records where api and db run: %+v", st.Events)
	}

	// native -> container: api queries PostgreSQL by its service name.
	apiURL := endpoint(t, st, "api")
	ok := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && !ok; time.Sleep(time.Second) {
		code, body := httpGet(t, apiURL+"/db")
		ok = code == 200 && body == "db says 42"
		if !ok && time.Now().Add(time.Second).After(deadline) {
			logs, _ := exec.Command("docker", "logs", "--tail", "20", containerOf(t, project, "db")).CombinedOutput()
			ip, _ := exec.Command("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", containerOf(t, project, "db")).CombinedOutput()
			t.Errorf("api does not reach db by name: %d %s\ndb at %s, its output:\n%s", code, body, ip, logs)
		}
	}
	// container -> native: probe was healthy (its check dials api), and
	// reaches api by name when asked.
	out, err := exec.Command("docker", "exec", containerOf(t, project, "probe"), "bash", "-c",
		`exec 3<>/dev/tcp/api/8080 && printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3 && cat <&3`).CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Errorf("probe -> api by name: %v\n%s", err, out)
	}
	// The fixed host port of db is published as written.
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", dbPort), 5*time.Second)
	if err != nil {
		t.Errorf("db on its fixed host port %d: %v", dbPort, err)
	} else {
		c.Close()
	}
	if db, _ := serviceOf(st, "db"); !strings.Contains(strings.Join(db.Endpoints, " "), fmt.Sprintf(":%d", dbPort)) {
		t.Errorf("db endpoints %v, want port %d", db.Endpoints, dbPort)
	}

	if res := p.run("drift"); res.code != 0 {
		t.Errorf("drift after up: %s", res)
	}
	if res := p.run("logs", "db", "--tail", "50"); res.code != 0 || !strings.Contains(res.stdout+res.stderr, "database system is ready") {
		t.Errorf("logs db: %s", res)
	}

	if res := p.run("down"); res.code != 0 {
		t.Fatalf("down: %s", res)
	}
	if left := p.leftovers(); len(left) > 0 {
		t.Errorf("processes left after down: %v", left)
	}
	out, _ = exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+project).Output()
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("containers left after down: %s", s)
	}
	out, _ = exec.Command("docker", "network", "ls", "-q", "--filter", "label=com.docker.compose.project="+project).Output()
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("networks left after down: %s", s)
	}
}

// TestHybridWithoutEngine: on the process target without a Docker
// engine, validate and up refuse the services that need one (an image, a
// Dockerfile not FROM scratch), each at its position, with exit 2; the
// process target's field warnings concern only services it runs natively.
func TestHybridWithoutEngine(t *testing.T) {
	dir := t.TempDir()
	p := &project{t: t, root: dir, dir: dir, kind: "process",
		env: []string{"LADDER_TARGET=process", "DOCKER_HOST=unix:///nonexistent.sock"}}
	for _, d := range []string{"api", "tools"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p.write("go.mod", "module mix\n\ngo 1.22\n")
	p.write("api/main.go", "package main\n\nfunc main() {}\n")
	p.write("tools/Dockerfile", "FROM ladder.local/debian:bookworm\nCMD [\"sleep\", \"infinity\"]\n")
	p.write("compose.yaml", `name: nowhere
services:
  api:
    build: ./api
    cap_add: [NET_ADMIN]
  db:
    image: ladder.local/postgres:15
    cap_add: [NET_ADMIN]
  tools:
    build: ./tools
`)
	p.write("ladder.yaml", "stack: compose.yaml\nenvironments:\n  local:\n    target: process\n")
	for _, args := range [][]string{{"validate"}, {"validate", "--target", "process"}, {"up"}} {
		res := p.run(args...)
		if res.code != 2 {
			t.Errorf("ladder %v without an engine: %s\nwant exit 2", args, res)
			continue
		}
		for _, want := range []string{"compose.yaml:6:3", "it runs an image", "compose.yaml:9:3", "its Dockerfile does not build a static binary", "nonexistent.sock"} {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("ladder %v without an engine: stderr lacks %q:\n%s", args, want, res.stderr)
			}
		}
		if strings.Contains(res.stderr, "compose.yaml:3:3") {
			t.Errorf("ladder %v refuses api, a static binary:\n%s", args, res.stderr)
		}
	}

	// With an engine, the stack is valid; cap_add is not applied to the
	// native api only.
	requireDocker(t)
	p.env = []string{"LADDER_TARGET=process"}
	res := p.run("validate", "--target", "process")
	if res.code != 0 {
		t.Fatalf("validate with an engine: %s", res)
	}
	if !strings.Contains(res.stderr, `"services.api.cap_add"`) && !strings.Contains(res.stderr, "services.api.cap_add") {
		t.Errorf("no warning for api's cap_add on the process target:\n%s", res.stderr)
	}
	if strings.Contains(res.stderr, "services.db.cap_add") {
		t.Errorf("a warning for db's cap_add, which the engine applies:\n%s", res.stderr)
	}
}
