package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/store"
)

// TestComposeProjectDriftAndRepair runs the demo on the compose target and
// checks what users of Docker's own tools and of ladder's drift detection
// see: docker-compose recognises the project, a `docker stop` is recorded
// as drift from the engine's event stream and shown on the dashboard,
// `ladder drift` reports it, and `ladder up` repairs it.
func TestComposeProjectDriftAndRepair(t *testing.T) {
	requireDocker(t)
	p := newProjectOn(t, "compose")
	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	site := up.Status.Sites[0]
	project, file := site.Runtime["project"], site.Runtime["composeFile"]
	if project == "" || file == "" {
		t.Fatalf("status names no compose project and file: %+v", site.Runtime)
	}

	// docker-compose sees the project through the standard labels.
	if _, err := exec.LookPath("docker-compose"); err == nil {
		out, err := exec.Command("docker-compose", "-p", project, "-f", file, "ps").CombinedOutput()
		if err != nil {
			t.Fatalf("docker-compose ps: %v\n%s", err, out)
		}
		for _, svc := range demoServices {
			if !strings.Contains(string(out), project+"-"+svc+"-") || !strings.Contains(string(out), "Up") {
				t.Errorf("docker-compose ps does not list %s running:\n%s", svc, out)
			}
		}
		logs, err := exec.Command("docker-compose", "-p", project, "-f", file, "logs", "--no-color", "--tail", "5", "users").CombinedOutput()
		if err != nil || !strings.Contains(string(logs), "listening") {
			t.Errorf("docker-compose logs users: %v\n%s", err, logs)
		}
	}
	// Every container carries the snapshot, environment and site.
	out, err := exec.Command("docker", "ps", "--filter", "label=com.docker.compose.project="+project,
		"--format", `{{.Label "dev.ladder.snapshot"}} {{.Label "dev.ladder.environment"}} {{.Label "dev.ladder.site"}}`).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(strings.TrimSpace(string(out)))
	if len(lines) != 3*(len(demoServices)+1) { // and db; the migrate job has exited
		t.Fatalf("docker ps labels: %q", out)
	}
	for i := 0; i < len(lines); i += 3 {
		if lines[i] != up.Snapshot.ID || lines[i+1] != "local" || lines[i+2] != "default" {
			t.Errorf("container labels %v, want %s local default", lines[i:i+3], up.Snapshot.ID)
		}
	}
	if res := p.run("drift"); res.code != 0 || !strings.Contains(res.stdout, "no drift") {
		t.Fatalf("drift right after up: %s", res)
	}

	// Out of band: someone stops a container by hand.
	page := newDashboard(t, up.Status.Agent.URL)
	usersID := containerOf(t, project, "users")
	stopped := time.Now()
	if err := exec.Command("docker", "stop", "-t", "1", usersID).Run(); err != nil {
		t.Fatal(err)
	}
	var detected time.Duration
	eventually(t, 15*time.Second, "a drift event", func() (bool, string) {
		var events []store.Event
		getJSON(t, up.Status.Agent.URL+"/api/v1/events?kind=drift.detected", &events)
		for _, e := range events {
			if e.Snapshot == up.Snapshot.ID && e.Env == "local" && e.Site == "default" {
				detected = time.Since(stopped)
				return true, ""
			}
		}
		return false, "no drift.detected event yet"
	})
	t.Logf("drift recorded %s after docker stop returned", detected.Round(time.Millisecond))
	page.waitSelector(t, `.drift li[data-service="users"]`, 10*time.Second)

	res := p.run("drift")
	if res.code != 5 || !strings.Contains(res.stdout, "users") || !strings.Contains(res.stdout, "stopped") {
		t.Errorf("ladder drift after docker stop: %s", res)
	}
	var st api.Status
	getJSON(t, up.Status.Agent.URL+"/api/v1/status", &st)
	if st.Sites[0].Drift == nil {
		t.Error("the status API shows no drift")
	}

	// ladder up repairs it: only users is replaced.
	up2 := p.upJSON()
	if len(up2.Deploy.Changed) != 1 || up2.Deploy.Changed[0] != "users" {
		t.Errorf("repair changed %v, want only users\n%s", up2.Deploy.Changed, up2.Deploy.Plan)
	}
	if res := p.run("drift"); res.code != 0 {
		t.Errorf("drift after repair: %s", res)
	}
	eventually(t, 10*time.Second, "the dashboard's drift banner gone", func() (bool, string) {
		var st api.Status
		getJSON(t, up.Status.Agent.URL+"/api/v1/status", &st)
		return st.Sites[0].Drift == nil, "status still shows drift"
	})
}

func containerOf(t *testing.T, project, service string) string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label=com.docker.compose.project="+project,
		"--filter", "label=com.docker.compose.service="+service).Output()
	if err != nil || len(strings.Fields(string(out))) != 1 {
		t.Fatalf("container of %s: %v %q", service, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestEngineUnreachable(t *testing.T) {
	p := newProjectOn(t, "compose")
	p.env = append(p.env, "DOCKER_HOST=unix:///nonexistent/docker.sock")
	res := p.run("up", "-d", "--dashboard", "127.0.0.1:0")
	if res.code == 0 || !strings.Contains(res.stderr, "DOCKER_HOST") || !strings.Contains(res.stderr, "/nonexistent/docker.sock") {
		t.Errorf("up on compose with no engine: %s", res)
	}
	// auto falls back to the process target and says so in one line
	// (without the database, which needs an engine).
	withoutDatabase(t, filepath.Join(p.dir, "compose.yaml"))
	p.env = append(p.env, "LADDER_TARGET=auto")
	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	if up.Status.Target != "process" {
		t.Errorf("auto without an engine chose %q", up.Status.Target)
	}
	res = p.run("status")
	if res.code != 0 {
		t.Errorf("status: %s", res)
	}
	p.kind = "process" // for the cleanup's check
}
