package build

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	dockerbuild "github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/ladderhq/ladder/internal/spec"
)

// engine returns a client of the Docker engine of DOCKER_HOST. An
// unreachable engine skips the test, or fails it on CI (CI=true), where
// the engine is part of what is tested.
func engine(t *testing.T) *client.Client {
	t.Helper()
	cli, err := NewDockerClient()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = cli.Ping(ctx)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Docker engine not reachable (DOCKER_HOST=%s): %v", os.Getenv("DOCKER_HOST"), err)
		}
		t.Skipf("Docker engine not reachable (DOCKER_HOST=%s): %v", os.Getenv("DOCKER_HOST"), err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// countingEngine counts the builds that reach the engine.
type countingEngine struct {
	DockerEngine
	builds atomic.Int32
}

func (c *countingEngine) ImageBuild(ctx context.Context, r io.Reader, o dockerbuild.ImageBuildOptions) (dockerbuild.ImageBuildResponse, error) {
	c.builds.Add(1)
	return c.DockerEngine.ImageBuild(ctx, r, o)
}

// uniqueName is a lowercase name no other test run uses, for the images
// a test leaves in the engine.
func uniqueName(prefix string) string {
	var b [4]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

var (
	appOnce sync.Once
	appBin  []byte
	appErr  error
)

// appBinary compiles testdata/dockerapp/src as a static linux binary.
func appBinary(t *testing.T) []byte {
	t.Helper()
	appOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ladder-dockerapp-")
		if err != nil {
			appErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "app")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, "main.go")
		cmd.Dir = filepath.Join("testdata", "dockerapp", "src")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOTOOLCHAIN=local", "GOFLAGS=")
		if b, err := cmd.CombinedOutput(); err != nil {
			appErr = fmt.Errorf("go build of the fixture app: %v\n%s", err, b)
			return
		}
		appBin, appErr = os.ReadFile(out)
	})
	if appErr != nil {
		t.Fatal(appErr)
	}
	return appBin
}

// dockerFixture copies testdata/dockerapp to a temp dir, with the app
// binary in it, everything aged so the stat cache trusts it.
func dockerFixture(t *testing.T) string {
	t.Helper()
	bin := appBinary(t)
	dst := filepath.Join(t.TempDir(), "dockerapp")
	src := filepath.Join("testdata", "dockerapp")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "app"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	age(t, dst)
	return dst
}

// dockerStack is a stack of Dockerfile services, each built from the
// context dir with the named Dockerfile (relative to dir).
func dockerStack(dir string, dockerfiles map[string]string) *spec.Stack {
	proj := &types.Project{Name: "dock", WorkingDir: dir, Services: types.Services{}}
	for name, df := range dockerfiles {
		proj.Services[name] = types.ServiceConfig{Name: name, WorkloadSpec: types.WorkloadSpec{
			Build: &types.BuildConfig{Context: ".", Dockerfile: df}}}
	}
	return &spec.Stack{Name: "dock", File: filepath.Join(dir, "compose.yaml"), Compose: proj}
}

func dockerHarness(t *testing.T, docker DockerEngine, dir string, st *fakeStore) *harness {
	h := newHarness(t, dir, st)
	h.opts.Docker = docker
	return h
}

// classicHarness builds Dockerfiles with the engine's classic builder.
func classicHarness(t *testing.T, docker DockerEngine, dir string, st *fakeStore) *harness {
	h := dockerHarness(t, docker, dir, st)
	h.opts.BuildKitHost = BuildKitClassic
	return h
}

// removeImage removes a tag the test made, and the image if nothing else
// refers to it.
func removeImage(t *testing.T, cli *client.Client, ref string) {
	t.Cleanup(func() {
		cli.ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true, PruneChildren: true})
	})
}

// runImage runs ref to completion and returns its output, checking the
// container reports id as its image.
func runImage(t *testing.T, cli *client.Client, ref, id string) string {
	t.Helper()
	ctx := context.Background()
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: ref}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true}) })
	info, err := cli.ContainerInspect(ctx, c.ID)
	if err != nil || info.Image != id {
		t.Fatalf("container image %q, %v; want %s", info.Image, err, id)
	}
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	select {
	case w := <-waitC:
		if w.StatusCode != 0 {
			t.Errorf("container exited %d", w.StatusCode)
		}
	case err := <-errC:
		t.Fatal(err)
	case <-time.After(time.Minute):
		t.Fatal("container did not exit")
	}
	logs, err := cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, logs); err != nil {
		t.Fatal(err)
	}
	return out.String()
}
