package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/registrytest"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// newImageProject writes a project whose stack is image services only,
// with a stack name of its own so its Compose projects meet no other run's.
func newImageProject(t *testing.T, compose, ladder string) (*project, string) {
	t.Helper()
	stack := fmt.Sprintf("img%d", time.Now().UnixNano()%1_000_000_000)
	dir := t.TempDir()
	p := &project{t: t, root: dir, dir: dir, kind: "compose"}
	p.write("compose.yaml", "name: "+stack+"\n"+compose)
	p.write("ladder.yaml", ladder)
	return p, stack
}

// newWebImageProject is newImageProject for one service, web, that runs
// image tag (busybox's httpd serving /healthz), on a local rung on the
// compose target followed by the environments rungs describes (YAML under
// environments:, indented two spaces). When t ends every rung is taken
// down, later ones first, and the stack's images are removed.
func newWebImageProject(t *testing.T, tag, rungs string) (*project, string) {
	t.Helper()
	p, stack := newImageProject(t, `services:
  web:
    image: `+tag+`
    ports: ["8080"]
    stop_grace_period: 1s # busybox as PID 1 ignores SIGTERM
    x-ladder:
      health: {path: /healthz}
`, `environments:
  local:
    target: compose
    dashboard: 127.0.0.1:0
`+rungs)
	envs := []string{"local"}
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z0-9-]+):$`).FindAllStringSubmatch(rungs, -1) {
		envs = append(envs, m[1])
	}
	t.Cleanup(func() {
		for i := len(envs) - 1; i >= 0; i-- {
			if res := p.run("down", "--env", envs[i]); res.code != 0 {
				t.Logf("cleanup: ladder down --env %s: %s", envs[i], res)
			}
		}
		removeImages(t, stack+"-web")
	})
	return p, stack
}

// removeImages removes the engine images of a stack's test, whatever
// their reference: ladder's tags (<stack>-<service>:ladder-...) and the
// registry references of the rungs that pulled.
func removeImages(t *testing.T, match string) {
	out, err := exec.Command("docker", "images", "--digests", "--format", "{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, ref := range strings.Fields(line) {
			if strings.Contains(ref, match) && !strings.HasSuffix(ref, ":<none>") && !strings.HasSuffix(ref, "@<none>") {
				_ = exec.Command("docker", "rmi", ref).Run()
			}
		}
	}
}

func containerImage(t *testing.T, project, service string) string {
	t.Helper()
	id := containerOf(t, project, service)
	out, err := exec.Command("docker", "inspect", "--format", "{{.Config.Image}}", id).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", id, err)
	}
	return strings.TrimSpace(string(out))
}

// TestImageServicesArePinnedAndPromotedThroughARegistry runs a stack of
// third-party images: the snapshot pins the tag's digest, a promotion to a
// rung with a registry pushes the image there and that rung's engine pulls
// it by digest; re-tagging the tag changes nothing on the promoted rung,
// and `up` reports the moved tag until --pull always takes it.
func TestImageServicesArePinnedAndPromotedThroughARegistry(t *testing.T) {
	requireDocker(t)
	src := registrytest.Start(t, nil)
	rung := registrytest.Start(t, nil)
	tag := src.Addr + "/e2e/web:1"
	v1 := registrytest.Push(t, registrytest.Image(t, map[string]string{"www/index.html": "v1"}), tag, nil)

	p, stack := newWebImageProject(t, tag, `  dev:
    from: local
    target: compose
    dashboard: 127.0.0.1:0
    registry: `+rung.Addr+`/team
`)

	// The first up pulls the image, with progress, and pins its digest.
	res := p.run("up", "-d")
	if res.code != 0 {
		t.Fatalf("ladder up: %s", res)
	}
	for _, want := range []string{"pulling " + tag, "layer 2/2", "pulled " + tag + " from the registry"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("up does not show %q:\n%s", want, res.stdout)
		}
	}
	st, _ := p.status()
	first := st.Sites[0].Snapshot
	snap := showSnapshot(t, p, first)
	if a := snap.Artifacts["web"]; a.Digest != v1 || a.Image != src.Addr+"/e2e/web@"+v1 {
		t.Fatalf("snapshot pins %+v, want %s@%s", a, src.Addr+"/e2e/web", v1)
	}
	if ref := containerImage(t, stack+"-local-default", "web"); !strings.HasPrefix(ref, stack+"-web:ladder-") {
		t.Errorf("local runs %s, want the image loaded from the artifact store", ref)
	}
	if code, body := httpGet(t, endpoint(t, st, "web")+"/index.html"); code != 200 || body != "v1" {
		t.Fatalf("web answers %d %q, want v1", code, body)
	}

	// Promotion pushes to dev's registry; dev's engine pulls by digest.
	res = p.run("promote", first, "--to", "dev")
	if res.code != 0 {
		t.Fatalf("promote: %s", res)
	}
	if !strings.Contains(res.stdout, "pushing snapshot "+snapshot.Short(first)+" to "+rung.Addr+"/team") {
		t.Errorf("promote does not say it pushes:\n%s", res.stdout)
	}
	pushed := rung.Addr + "/team/" + stack + "-web@" + v1
	if _, err := remote.Head(mustDigestRef(t, pushed)); err != nil {
		t.Fatalf("dev's registry lacks %s: %v", pushed, err)
	}
	if ref := containerImage(t, stack+"-dev-default", "web"); ref != pushed {
		t.Errorf("dev runs %s, want %s pulled by digest", ref, pushed)
	}

	// Someone moves the tag. dev keeps its digest; up says the tag moved
	// and keeps the pinned image.
	v2 := registrytest.Push(t, registrytest.Image(t, map[string]string{"www/index.html": "v2"}), tag, nil)
	res = p.run("up")
	if res.code != 0 {
		t.Fatalf("up after the tag moved: %s", res)
	}
	if !strings.Contains(res.stdout, tag+" now points at another image in the registry") || !strings.Contains(res.stdout, "--pull always") {
		t.Errorf("up does not report the moved tag:\n%s", res.stdout)
	}
	if st, _ := p.status(); st.Sites[0].Snapshot != first {
		t.Errorf("local moved to %s with --pull missing; want it to keep %s", snapshot.Short(st.Sites[0].Snapshot), snapshot.Short(first))
	}
	if res := p.run("drift", "dev"); res.code != 0 {
		t.Errorf("dev drifted after the tag moved: %s", res)
	}
	if ref := containerImage(t, stack+"-dev-default", "web"); ref != pushed {
		t.Errorf("dev runs %s after the tag moved, want %s", ref, pushed)
	}

	// --pull always follows the tag into a new snapshot on local only.
	up := p.upJSON("--pull", "always")
	if up.Snapshot.ID == first || up.Snapshot.Artifacts["web"].Digest != v2 {
		t.Fatalf("up --pull always: snapshot %s pins %s, want a new snapshot of %s", snapshot.Short(up.Snapshot.ID), up.Snapshot.Artifacts["web"].Digest, v2)
	}
	if code, body := httpGet(t, endpoint(t, up.Status, "web")+"/index.html"); code != 200 || body != "v2" {
		t.Errorf("web answers %d %q after --pull always, want v2", code, body)
	}
	var dev api.Status
	if res := p.run("status", "--env", "dev", "-o", "json"); res.code == 0 {
		_ = json.Unmarshal([]byte(res.stdout), &dev)
	}
	if len(dev.Sites) == 0 || dev.Sites[0].Snapshot != first {
		t.Errorf("dev runs %+v, want still %s", dev.Sites, snapshot.Short(first))
	}
	// A rollback of local redeploys the first pin without asking the
	// registry (whose tag points at v2 now).
	src.Close()
	if res := p.run("rollback", "local", "--to", first); res.code != 0 {
		t.Fatalf("rollback with the source registry gone: %s", res)
	}
	if st, _ := p.status(); st.Sites[0].Snapshot != first {
		t.Errorf("local runs %s after rollback, want %s", snapshot.Short(st.Sites[0].Snapshot), snapshot.Short(first))
	}
}

// TestImageServiceErrorsAreConfigErrors checks what a user sees for an
// image that is not anywhere, one forbidden by --pull never, and an image
// service on the process target: exit 2, the image or services named, and
// what to do.
func TestImageServiceErrorsAreConfigErrors(t *testing.T) {
	requireDocker(t)
	reg := registrytest.Start(t, nil)
	tag := reg.Addr + "/e2e/nowhere:1"
	p, stack := newImageProject(t, `services:
  db:
    image: `+tag+`
    stop_grace_period: 1s
`, "environments:\n  local:\n    target: compose\n    dashboard: 127.0.0.1:0\n")

	res := p.run("up", "-d")
	if res.code != 2 || !strings.Contains(res.stderr, "image "+tag+": not found") || !strings.Contains(res.stderr, "Try:") {
		t.Errorf("up of a missing image: %s\nwant exit 2 naming %s with a hint", res, tag)
	}
	registrytest.Push(t, registrytest.Image(t, nil), tag, nil)
	res = p.run("up", "-d", "--pull", "never")
	if res.code != 2 || !strings.Contains(res.stderr, tag) || !strings.Contains(res.stderr, "docker pull "+tag) {
		t.Errorf("up --pull never of an image not here: %s\nwant exit 2 naming it and docker pull", res)
	}
	if res := p.run("up", "-d", "--pull", "sometimes"); res.code != 2 {
		t.Errorf("--pull sometimes: %s, want exit 2", res)
	}

	// The process target runs image services in the engine: without one
	// it refuses them, each at its position.
	env := p.env
	p.env = append(p.env, "LADDER_TARGET=process", "DOCKER_HOST=unix:///nonexistent.sock")
	for _, args := range [][]string{{"validate"}, {"up", "-d"}} {
		res := p.run(args...)
		if res.code != 2 || !strings.Contains(res.stderr, "compose.yaml:3:3") || !strings.Contains(res.stderr, "it runs an image") {
			t.Errorf("ladder %v on the process target without an engine: %s\nwant exit 2 naming db at compose.yaml:3:3", args, res)
		}
	}

	// A promotion to a process-target rung whose ladder engine reaches no
	// Docker engine is refused before anything starts there. The rungs'
	// engine is the one that decides: local is taken down (its engine
	// ends), and the promotion starts one that has no Docker engine.
	p.env = env
	p.write("ladder.yaml", "environments:\n  local:\n    target: compose\n    dashboard: 127.0.0.1:0\n  dev:\n    from: local\n    target: process\n    dashboard: 127.0.0.1:0\n")
	up := p.upJSON("-d")
	t.Cleanup(func() {
		p.run("down")
		removeImages(t, stack+"-db")
	})
	if res := p.run("down"); res.code != 0 {
		t.Fatalf("down: %s", res)
	}
	eventually(t, 15*time.Second, "the background engine ends with local", func() (bool, string) {
		engines := p.enginesOf()
		return len(engines) == 0, fmt.Sprint(engines)
	})
	p.env = append(p.env, "DOCKER_HOST=unix:///nonexistent.sock")
	res = p.run("promote", up.Snapshot.ID, "--to", "dev")
	p.env = env
	if res.code != 2 || !strings.Contains(res.stderr, "dev runs on the process target, and services db") {
		t.Errorf("promote to a process rung: %s\nwant exit 2 naming db", res)
	}
}

func showSnapshot(t *testing.T, p *project, id string) snapshot.Snapshot {
	t.Helper()
	res := p.run("snapshot", "show", id, "-o", "json")
	if res.code != 0 {
		t.Fatalf("snapshot show: %s", res)
	}
	var out struct {
		snapshot.Snapshot
		Inner *snapshot.Snapshot `json:"snapshot"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatalf("snapshot show -o json: %v\n%s", err, res.stdout)
	}
	if out.Inner != nil {
		return *out.Inner
	}
	return out.Snapshot
}

func mustDigestRef(t *testing.T, ref string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
