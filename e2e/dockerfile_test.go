package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A Dockerfile service whose build context is the project directory,
// which holds ladder's state (.ladder/): a second up builds nothing and
// keeps the snapshot. A base image the engine lacks stops up with a
// configuration error (exit 2) that says how to get it.
func TestDockerfileContextHoldsTheProject(t *testing.T) {
	requireDocker(t)
	p := newProject(t)
	build := exec.Command("go", "build", "-trimpath", "-o", "notifications.bin", "./services/notifications")
	build.Dir = p.dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	p.write("notifications.Dockerfile", "FROM scratch\nCOPY notifications.bin /app\nENTRYPOINT [\"/app\"]\n")
	compose, err := os.ReadFile(filepath.Join(p.dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p.write("compose.yaml", strings.Replace(string(compose), "build: ./services/notifications",
		"build: {context: ., dockerfile: notifications.Dockerfile}", 1))

	first := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	if !slices.Contains(first.Build.Built, "notifications") {
		t.Fatalf("first up built %v", first.Build.Built)
	}
	if _, err := os.Stat(filepath.Join(p.dir, ".ladder", "ladder.db")); err != nil {
		t.Fatalf("no state inside the build context: %v", err)
	}
	second := p.upJSON()
	if len(second.Build.Built) != 0 || second.Snapshot.ID != first.Snapshot.ID ||
		second.Snapshot.Artifacts["notifications"].Digest != first.Snapshot.Artifacts["notifications"].Digest {
		t.Fatalf("second up built %v, snapshot %s -> %s", second.Build.Built, first.Snapshot.ID, second.Snapshot.ID)
	}

	absent := "ladder-e2e-absent-" + strings.ToLower(filepath.Base(p.root)) + ":1"
	p.write("notifications.Dockerfile", "FROM "+absent+"\nCOPY notifications.bin /app\nENTRYPOINT [\"/app\"]\n")
	res := p.run("up")
	if res.code != 2 || !strings.Contains(res.stderr, "needs image \""+absent+"\"") || !strings.Contains(res.stderr, "docker pull "+absent) {
		t.Fatalf("up with a missing base image: %s", res)
	}
}
