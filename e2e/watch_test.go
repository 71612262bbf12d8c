package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// watching is a `ladder up --watch` running in the foreground.
type watching struct {
	t    *testing.T
	cmd  interface{ Wait() error }
	pid  int
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func (w *watching) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

// waitFor waits until the output holds s.
func (w *watching) waitFor(s string, d time.Duration) {
	w.t.Helper()
	eventually(w.t, d, "output "+s, func() (bool, string) {
		out := w.output()
		return strings.Contains(out, s), out
	})
}

// stop interrupts it (Ctrl-C) and waits for it to exit.
func (w *watching) stop() {
	_ = syscall.Kill(w.pid, syscall.SIGINT)
	select {
	case <-w.done:
	case <-time.After(time.Minute):
		_ = syscall.Kill(w.pid, syscall.SIGKILL)
		w.t.Errorf("up --watch did not stop within a minute of Ctrl-C:\n%s", w.output())
	}
}

// startWatch runs `ladder up --watch ARGS` and waits until it watches.
func startWatch(t *testing.T, p *project, args ...string) *watching {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	cmd := p.command(ctx, append([]string{"up", "--watch", "--dashboard", "127.0.0.1:0", "--timeout", "2m"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &watching{t: t, cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			w.mu.Lock()
			w.out.WriteString(sc.Text() + "\n")
			w.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
	}()
	t.Cleanup(w.stop)
	w.waitFor("watching for changes", 3*time.Minute)
	return w
}

// versionOf is what a service's /version says its snapshot is.
func versionOf(t *testing.T, url string) string {
	code, body := httpGet(t, url+"/version")
	if code != 200 {
		return ""
	}
	var v struct {
		Snapshot string `json:"snapshot"`
	}
	_ = json.Unmarshal([]byte(body), &v)
	return v.Snapshot
}

func TestWatchProcess(t *testing.T) {
	p := newProject(t)
	// A project checked out well before its session, as a real one is: a
	// recipe is learnt only from a build whose other files were not being
	// written moments before (their mtimes could not tell a later change).
	ageTree(t, p.root, time.Hour)
	// -v: the log says how each rebuild was made.
	w := startWatch(t, p, "-v")
	if !strings.Contains(w.output(), "notifications: rebuild on a save in its Go packages") {
		t.Fatalf("up --watch does not say it follows notifications' packages:\n%s", w.output())
	}
	st, res := p.status()
	if res.code != 0 {
		t.Fatalf("status: %s", res)
	}
	first := st.Sites[0].Snapshot
	url := endpoint(t, st, "notifications")
	usersURL := endpoint(t, st, "users")
	usersVersion := versionOf(t, usersURL)

	// A save that changes what notifications serves.
	main := filepath.Join(p.dir, "services", "notifications", "main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "\treturn nil\n}", "\ts.HandleFunc(\"GET /api/edited\", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(\"v2\")) })\n\treturn nil\n}", 1)
	edited = strings.Replace(edited, "import (\n", "import (\n\t\"net/http\"\n\n", 1)
	// New to the go command's build cache, so that this save is compiled
	// (not found compiled by an earlier run) as an edit is.
	edited = fmt.Sprintf("// edited at %d\n", time.Now().UnixNano()) + edited
	if err := os.WriteFile(main, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the edited notifications serving", func() (bool, string) {
		code, body := httpGet(t, url+"/api/edited")
		return code == 200 && body == "v2", w.output()
	})
	w.waitFor("serving (release", 30*time.Second)
	st, _ = p.status()
	second := st.Sites[0].Snapshot
	if second == first || second == "" {
		t.Fatalf("snapshot after the save = %q, before %q: want a new one", second, first)
	}
	if v := versionOf(t, url); v != second {
		t.Errorf("notifications reports snapshot %q, want the new %q", v, second)
	}
	// users did not change: it keeps its instance, and now reports the
	// snapshot it was started with.
	if v := versionOf(t, usersURL); v != usersVersion {
		t.Errorf("users was restarted: version %q, was %q", v, usersVersion)
	}
	res = p.run("snapshots", "-o", "json")
	if res.code != 0 || !strings.Contains(res.stdout, second) || !strings.Contains(res.stdout, first) {
		t.Errorf("ladder snapshots does not list both %s and %s: %s", first, second, res)
	}
	// The inner loop stores its Go layers as plain tars: every
	// notifications image is one.
	if n := plainLayers(t, p, "notifications"); n < 2 {
		t.Errorf("%d notifications images with an uncompressed layer in the artifact store, want both snapshots'", n)
	}
	// That go build taught ladder how the package is compiled and
	// linked: the next save inside the package runs the compiler and the
	// linker directly, and serves just the same.
	w.waitFor("go build: recipe proven", time.Minute)
	edited = strings.Replace(edited, `[]byte("v2")`, `[]byte("v3")`, 1)
	if err := os.WriteFile(main, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "notifications serving v3", func() (bool, string) {
		code, body := httpGet(t, url+"/api/edited")
		return code == 200 && body == "v3", w.output()
	})
	if !strings.Contains(w.output(), "replayed the recipe") {
		t.Errorf("a save inside notifications' main package was not rebuilt with its recipe:\n%s", w.output())
	}
	// A save while the last one is still building supersedes it: that
	// build is dropped and the newer files are built and served. A few
	// tries, in case a busy machine reads both saves as one batch.
	superseded := false
	for try := 0; try < 3 && !superseded; try++ {
		body := fmt.Sprintf("v4-%d", try)
		edited = strings.Replace(edited, `[]byte("v3")`, `[]byte("`+body+`-first")`, 1)
		if err := os.WriteFile(main, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		// Past the coalescing, well within the compile and link.
		time.Sleep(30 * time.Millisecond)
		edited = strings.Replace(edited, `[]byte("`+body+`-first")`, `[]byte("v3")`, 1)
		edited = strings.Replace(edited, `[]byte("v3")`, `[]byte("`+body+`")`, 1)
		if err := os.WriteFile(main, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Minute, "notifications serving "+body, func() (bool, string) {
			code, got := httpGet(t, url+"/api/edited")
			return code == 200 && got == body, w.output()
		})
		superseded = strings.Contains(w.output(), "newer changes came in: building those instead")
		edited = strings.Replace(edited, `[]byte("`+body+`")`, `[]byte("v3")`, 1)
	}
	if !superseded {
		t.Errorf("a save 30 ms after another never superseded its build:\n%s", w.output())
	}
	if err := os.WriteFile(main, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "notifications serving v3 again", func() (bool, string) {
		code, body := httpGet(t, url+"/api/edited")
		return code == 200 && body == "v3", w.output()
	})
	// A save that breaks the build leaves the last release serving.
	if err := os.WriteFile(main, []byte(edited+"\nfunc broken( {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.waitFor("build failed; still running the last release", time.Minute)
	if code, body := httpGet(t, url+"/api/edited"); code != 200 || body != "v3" {
		t.Errorf("after a broken save, notifications answers %d %q", code, body)
	}
	w.stop()
}

// plainLayers counts the images of service in the project's artifact
// store, failing the test if one of them has a layer that is not a
// plain tar.
func plainLayers(t *testing.T, p *project, service string) int {
	t.Helper()
	dir := filepath.Join(p.dir, ".ladder", "artifacts")
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range index.Manifests {
		if !strings.HasPrefix(m.Annotations["org.opencontainers.image.ref.name"], service+"@") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(m.Digest, "sha256:")))
		if err != nil {
			t.Fatal(err)
		}
		var manifest struct {
			Layers []struct {
				MediaType string `json:"mediaType"`
			} `json:"layers"`
		}
		if err := json.Unmarshal(raw, &manifest); err != nil {
			t.Fatal(err)
		}
		for _, l := range manifest.Layers {
			if l.MediaType != "application/vnd.oci.image.layer.v1.tar" {
				t.Errorf("%s image %s has a layer of type %s", service, m.Digest, l.MediaType)
			}
		}
		n++
	}
	return n
}

// editNotifications makes notifications answer GET /api/edited with body.
func editNotifications(t *testing.T, p *project, body string) {
	t.Helper()
	hook := "package main\n\nimport (\n\t\"net/http\"\n\n\t\"github.com/ladderhq/ladder/examples/trading/internal/service\"\n)\n\n" +
		"func init() { extra = func(s *service.Service) {\n\ts.HandleFunc(\"GET /api/edited\", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(\"" + body + "\")) })\n} }\n"
	if err := os.WriteFile(filepath.Join(p.dir, "services", "notifications", "edited.go"), []byte(hook), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hookNotifications lets editNotifications add handlers to notifications.
func hookNotifications(t *testing.T, p *project) {
	t.Helper()
	main := filepath.Join(p.dir, "services", "notifications", "main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "\treturn nil\n}", "\tif extra != nil {\n\t\textra(s)\n\t}\n\treturn nil\n}\n\nvar extra func(*service.Service)", 1)
	if err := os.WriteFile(main, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatchCollectsThrowawaySnapshots(t *testing.T) {
	p := newProject(t)
	p.write("ladder.yaml", "stack: compose.yaml\nenvironments:\n  local:\n    target: auto\n    data: throwaway\n    telemetry: {interval: 1s}\n")
	hookNotifications(t, p)
	w := startWatch(t, p, "--keep-snapshots", "2")
	st, _ := p.status()
	url := endpoint(t, st, "notifications")
	snaps := []string{st.Sites[0].Snapshot}
	for i := 1; i <= 3; i++ {
		body := fmt.Sprintf("v%d", i)
		editNotifications(t, p, body)
		eventually(t, 2*time.Minute, "notifications serving "+body, func() (bool, string) {
			code, got := httpGet(t, url+"/api/edited")
			return code == 200 && got == body, w.output()
		})
		eventually(t, 30*time.Second, "a release of a new snapshot", func() (bool, string) {
			st, _ := p.status()
			return st.Sites[0].Snapshot != snaps[len(snaps)-1], w.output()
		})
		st, _ := p.status()
		snaps = append(snaps, st.Sites[0].Snapshot)
	}
	res := p.run("snapshots", "-o", "json")
	if res.code != 0 {
		t.Fatalf("snapshots: %s", res)
	}
	// The newest two stay; the second (released on this throwaway rung
	// only, and no longer running anywhere) is collected.
	for i, id := range snaps {
		has := strings.Contains(res.stdout, id)
		switch {
		case i >= 2 && !has:
			t.Errorf("snapshot %d (%s), one of the newest two, was collected", i, id)
		case i == 1 && has:
			t.Errorf("snapshot %d (%s) was kept beyond --keep-snapshots 2", i, id)
		}
	}
	w.stop()
}

// runningContainerOf is the ID of the running container of service in the
// project's Compose project.
func runningContainerOf(t *testing.T, p *project, service string) string {
	t.Helper()
	name := ""
	for _, e := range p.env {
		if v, ok := strings.CutPrefix(e, "COMPOSE_PROJECT_NAME="); ok {
			name = v
		}
	}
	out, err := exec.Command("docker", "ps", "--filter", "label=com.docker.compose.service="+service,
		"--format", `{{.ID}} {{.Label "com.docker.compose.project"}}`).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if id, project, ok := strings.Cut(line, " "); ok && strings.HasPrefix(project, name) {
			return id
		}
	}
	t.Fatalf("no running %s container of project %s:\n%s", service, name, out)
	return ""
}

// fileIn reads path in the container (docker cp, which needs no shell).
func fileIn(id, path string) (string, bool) {
	out, err := exec.Command("docker", "cp", id+":"+path, "-").Output()
	if err != nil {
		return "", false
	}
	tr := tar.NewReader(bytes.NewReader(out))
	if _, err := tr.Next(); err != nil {
		return "", false
	}
	b, _ := io.ReadAll(tr)
	return string(b), true
}

func startedAt(t *testing.T, id string) string {
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.StartedAt}}", id).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func TestWatchCompose(t *testing.T) {
	requireDocker(t)
	p := newProjectOn(t, "compose")
	compose := filepath.Join(p.dir, "compose.yaml")
	src, err := os.ReadFile(compose)
	if err != nil {
		t.Fatal(err)
	}
	rules := "build: ./services/notifications\n    develop:\n      watch:\n" +
		"        - {path: ./static, action: sync, target: /static, ignore: [\"*.bak\"]}\n" +
		"        - {path: ./conf, action: sync+restart, target: /conf}\n" +
		"        - {path: ./services/notifications, action: rebuild}\n"
	p.write("compose.yaml", strings.Replace(string(src), "build: ./services/notifications\n", rules, 1))
	for _, d := range []string{"static", "conf"} {
		if err := os.MkdirAll(filepath.Join(p.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hookNotifications(t, p)
	w := startWatch(t, p)
	id := runningContainerOf(t, p, "notifications")

	// sync: the file appears in the running container.
	t0 := time.Now()
	p.write("static/a.txt", "hello")
	p.write("static/a.bak", "ignored")
	eventually(t, 30*time.Second, "static/a.txt in the container", func() (bool, string) {
		got, ok := fileIn(id, "/static/a.txt")
		return ok && got == "hello", w.output()
	})
	t.Logf("sync: the file was in the container %s after the write", time.Since(t0).Round(time.Millisecond))
	if _, ok := fileIn(id, "/static/a.bak"); ok {
		t.Error("an ignored file was synced")
	}

	// sync+restart: the file is there and the container started again.
	before := startedAt(t, id)
	p.write("conf/app.conf", "level=debug")
	eventually(t, time.Minute, "conf synced and the container restarted", func() (bool, string) {
		got, ok := fileIn(id, "/conf/app.conf")
		return ok && got == "level=debug" && startedAt(t, id) != before, w.output()
	})

	// rebuild: a new snapshot serves.
	st, _ := p.status()
	first := st.Sites[0].Snapshot
	url := endpoint(t, st, "notifications")
	editNotifications(t, p, "rebuilt")
	eventually(t, 3*time.Minute, "the rebuilt notifications serving", func() (bool, string) {
		st, _ := p.status()
		if len(st.Sites) == 0 || st.Sites[0].Snapshot == first {
			return false, w.output()
		}
		s, ok := serviceOf(st, "notifications")
		if !ok || len(s.Endpoints) == 0 {
			return false, w.output()
		}
		url = s.Endpoints[0]
		code, body := httpGet(t, url+"/api/edited")
		return code == 200 && body == "rebuilt", w.output()
	})
	w.stop()
}
