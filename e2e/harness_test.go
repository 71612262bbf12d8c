package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/demotest"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store/postgres/pgtest"
)

// ladderBin is the binary under test, built once in TestMain.
var ladderBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ladder-e2e-bin")
	if err != nil {
		panic(err)
	}
	ladderBin = filepath.Join(dir, "ladder")
	cmd := exec.Command("go", "build", "-o", ladderBin, "./cmd/ladder")
	cmd.Dir = repoRoot()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ladder:", err)
		os.Exit(1)
	}
	// pgtest.Main runs the tests and then stops the PostgreSQL server the
	// shared-store tests started, if any.
	code := pgtest.Main(m)
	stopBuildkitd()
	os.RemoveAll(dir)
	os.Exit(code)
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// project is a copy of the demo stack in a temp dir, laid out as
// `ladder demo` writes it: go.mod and go.sum at the top, the stack in
// examples/trading.
type project struct {
	t       *testing.T
	root    string
	dir     string // the stack directory
	webPort int
	env     []string
	kind    string        // the target kind the project runs on
	timeout time.Duration // of one ladder command; 3 minutes when zero
}

// newProject copies the demo for a test that runs on the process target.
func newProject(t *testing.T) *project { return newProjectOn(t, "process") }

// ageTree sets the modification time of everything under root to by ago.
func ageTree(t *testing.T, root string, by time.Duration) {
	t.Helper()
	old := time.Now().Add(-by)
	err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(path, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// newProjectOn copies the demo for a test on the given target kind.
func newProjectOn(t *testing.T, kind string) *project {
	t.Helper()
	root := t.TempDir()
	src := repoRoot()
	for _, f := range []string{"go.mod", "go.sum"} {
		copyFile(t, filepath.Join(src, f), filepath.Join(root, f))
	}
	demo := filepath.Join(src, "examples", "trading")
	err := filepath.WalkDir(demo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(demo, path)
		if d.IsDir() && d.Name() == ".ladder" {
			return filepath.SkipDir
		}
		dst := filepath.Join(root, "examples", "trading", rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		copyFile(t, path, dst)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &project{t: t, root: root, dir: filepath.Join(root, "examples", "trading"), webPort: freePort(t), kind: kind}
	switch kind {
	case "process":
		withoutDatabase(t, filepath.Join(p.dir, "compose.yaml"))
	case "compose":
		requireDocker(t)
		demoImage(t)
		// The first up copies the database image (about 180 MB) into the
		// project's artifact store, and initdb runs; on a busy machine
		// that takes minutes.
		p.timeout = 12 * time.Minute
	}
	// One rung is enough here (the demo's ladder auto-promotes to dev,
	// which would start a second stack); the ladder tests write their own.
	rung := "stack: compose.yaml\nenvironments:\n  local:\n    target: auto\n    telemetry: {interval: 1s}\n"
	if kind == "compose" {
		rung += "    health: {timeout: 5m}\n" // the database's initdb on a busy machine
	}
	p.write("ladder.yaml", rung)
	// A project name of its own, so the test's Compose project never
	// meets another run's.
	p.env = []string{fmt.Sprintf("WEB_PORT=%d", p.webPort), "LADDER_TARGET=" + kind,
		fmt.Sprintf("COMPOSE_PROJECT_NAME=e2e%d", time.Now().UnixNano()%1_000_000_000)}
	t.Cleanup(func() {
		// Whatever a test did, leave nothing running.
		down := []string{"down"}
		if p.kind == "compose" {
			down = append(down, "--volumes") // the database's data
		}
		res := p.run(down...)
		if res.code != 0 {
			t.Logf("cleanup: ladder down exited %d: %s", res.code, res.stderr)
		}
		if left := p.leftovers(); len(left) > 0 {
			t.Errorf("instances left running after the test: %v", left)
			if p.kind == "process" {
				for _, pid := range left {
					n, _ := strconv.Atoi(pid)
					_ = syscall.Kill(n, syscall.SIGKILL)
				}
			}
		}
	})
	return p
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (p *project) write(rel, content string) {
	p.t.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, rel), []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *project) appendTo(rel, content string) {
	p.t.Helper()
	f, err := os.OpenFile(filepath.Join(p.dir, rel), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		p.t.Fatal(err)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// command returns ladder ARGS ready to run in the project.
func (p *project) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, ladderBin, append([]string{"-C", p.dir}, args...)...)
	cmd.Env = append(os.Environ(), p.env...)
	return cmd
}

// run runs ladder to completion (at most p.timeout, 3 minutes by default).
func (p *project) run(args ...string) result {
	p.t.Helper()
	timeout := p.timeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := p.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("ladder %v: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// upResult mirrors `ladder up -o json`.
type upResult struct {
	Snapshot snapshot.Snapshot `json:"snapshot"`
	Build    struct {
		Built  []string `json:"built"`
		Cached []string `json:"cached"`
	} `json:"build"`
	Deploy api.DeployResult `json:"deploy"`
	Status api.Status       `json:"status"`
}

func (p *project) upJSON(args ...string) upResult {
	p.t.Helper()
	res := p.run(append([]string{"up", "-o", "json"}, args...)...)
	if res.code != 0 {
		p.t.Fatalf("ladder up: %s", res)
	}
	var up upResult
	if err := json.Unmarshal([]byte(res.stdout), &up); err != nil {
		p.t.Fatalf("ladder up -o json: %v\n%s", err, res)
	}
	return up
}

func (p *project) status() (api.Status, result) {
	p.t.Helper()
	res := p.run("status", "-o", "json")
	var st api.Status
	if res.code == 0 || res.code == 3 {
		if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
			p.t.Fatalf("ladder status -o json: %v\n%s", err, res)
		}
	}
	return st, res
}

// leftovers lists what still runs of the project: on the process target
// the processes running a binary unpacked under the project's state
// directory, on the compose target the project's containers.
func (p *project) leftovers() []string {
	if p.kind == "compose" {
		out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=dev.ladder.environment=local",
			"--filter", "label=com.docker.compose.project.working_dir="+p.dir).Output()
		if err != nil {
			p.t.Fatalf("docker ps: %v", err)
		}
		return strings.Fields(string(out))
	}
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			continue
		}
		if strings.HasPrefix(exe, p.root+string(filepath.Separator)) {
			pids = append(pids, strconv.Itoa(pid))
		}
	}
	return pids
}

// freePort picks an unused port below the kernel's ephemeral range, where
// Docker also publishes ports of tests running beside this one.
func freePort(t *testing.T) int {
	t.Helper()
	for range 64 {
		port := 20000 + rand.IntN(12768)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	code, body := httpGet(t, url)
	if code != 200 {
		t.Fatalf("GET %s: HTTP %d: %s", url, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

// eventually retries cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s; last: %s", what, d, last)
}

func serviceOf(st api.Status, name string) (api.ServiceStatus, bool) {
	for _, site := range st.Sites {
		for _, s := range site.Services {
			if s.Name == name {
				return s, true
			}
		}
	}
	return api.ServiceStatus{}, false
}

func endpoint(t *testing.T, st api.Status, name string) string {
	t.Helper()
	s, ok := serviceOf(st, name)
	if !ok || len(s.Endpoints) == 0 {
		t.Fatalf("no endpoint for %s in status", name)
	}
	return s.Endpoints[0]
}

// requireDocker fails the test under CI, and skips it elsewhere, when no
// Docker engine answers.
func requireDocker(t *testing.T) {
	t.Helper()
	if err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Docker engine not reachable: %v", err)
		}
		t.Skipf("Docker engine not reachable: %v", err)
	}
}

// withoutDatabase rewrites the demo's compose file at path without its
// database (demotest.WithoutDatabase).
func withoutDatabase(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := demotest.WithoutDatabase(string(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}

// demoImage makes sure the Docker engine has the demo's database image,
// building it from Debian's packages with scripts/debian-image.sh when it
// is missing (about a minute), as `ladder demo` does.
func demoImage(t *testing.T) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(repoRoot(), "scripts", "debian-image.sh"), "ladder.local/postgres:15", "postgresql-15")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the demo's database image: %v\n%s", err, out)
	}
}
