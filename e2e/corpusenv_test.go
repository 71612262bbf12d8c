package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/buildkit"
)

// The corpus's base images, all made on this machine: a FROM-scratch
// busybox (Debian's busybox-static) and the Debian images that
// scripts/debian-image.sh builds from packages.
const (
	busyboxRef  = "ladder.local/busybox:static"
	debianRef   = "ladder.local/debian:bookworm"
	postgresRef = "ladder.local/postgres:15"
)

var (
	imagesMu   sync.Mutex
	imagesDone = map[string]error{}
)

// corpusImage makes sure the engine has ref, building it once per test
// binary: busybox from the static binary, the Debian images with
// scripts/debian-image.sh (which does nothing when the engine has them).
// A missing component fails under CI=true and skips elsewhere.
func corpusImage(t *testing.T, ref string) {
	t.Helper()
	imagesMu.Lock()
	defer imagesMu.Unlock()
	err, done := imagesDone[ref]
	if !done {
		switch ref {
		case busyboxRef:
			err = importBusybox()
		case debianRef:
			err = debianImage(ref)
		case postgresRef:
			err = debianImage(ref, "postgresql-15")
		default:
			err = fmt.Errorf("no recipe for %s", ref)
		}
		imagesDone[ref] = err
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("image %s: %v", ref, err)
		}
		t.Skipf("image %s: %v", ref, err)
	}
}

func debianImage(ref string, pkgs ...string) error {
	cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "debian-image.sh"), append([]string{ref}, pkgs...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/debian-image.sh: %v\n%s", err, out)
	}
	return nil
}

// importBusybox imports a FROM-scratch image of the static busybox with
// every applet linked in /bin, a passwd and group naming root, nobody and
// app (uid 1000), and /tmp. Once per engine: an image already there is kept.
func importBusybox() error {
	if exec.Command("docker", "image", "inspect", busyboxRef).Run() == nil {
		return nil
	}
	const bin = "/bin/busybox"
	b, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("%v (apt-get install busybox-static; scripts/test.sh does)", err)
	}
	list, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	add := func(h *tar.Header, body []byte) {
		h.ModTime = epoch
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		_ = tw.WriteHeader(h)
		_, _ = tw.Write(body)
	}
	for _, d := range []string{"bin/", "etc/", "tmp/", "var/", "var/run/", "www/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		add(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode}, nil)
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755}, b)
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox"}, nil)
		}
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644},
		[]byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"))
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/group", Mode: 0o644}, []byte("root:x:0:\napp:x:1000:\nnogroup:x:65534:\n"))
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "www/index.html", Mode: 0o644}, []byte("busybox\n"))
	tw.Close()
	cmd := exec.Command("docker", "import", "--change", "ENV PATH=/bin", "--change", `CMD ["/bin/sh"]`, "-", busyboxRef)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker import: %v\n%s", err, out)
	}
	return nil
}

// buildkitdVersion is the buildkitd that scripts/test.sh builds into the
// cache: the corpus's Dockerfiles use heredocs and COPY --link, which the
// engine's own BuildKit here (v0.8) lacks.
const buildkitdVersion = "v0.18.2"

var (
	bkdOnce sync.Once
	bkdAddr string
	bkdErr  error
	bkdStop func()
)

// buildkitdAddr starts one buildkitd for the test binary (stopped by
// TestMain through stopBuildkitd) and returns its address.
func buildkitdAddr(t *testing.T) string {
	t.Helper()
	bkdOnce.Do(func() { bkdAddr, bkdStop, bkdErr = startBuildkitd() })
	if bkdErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("buildkitd: %v", bkdErr)
		}
		t.Skipf("buildkitd: %v", bkdErr)
	}
	return bkdAddr
}

func stopBuildkitd() {
	if bkdStop != nil {
		bkdStop()
	}
}

func startBuildkitd() (string, func(), error) {
	bin := os.Getenv("LADDER_BUILDKITD")
	if bin == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		bin = filepath.Join(cache, "ladder-ci", "bin", "buildkit-"+buildkitdVersion, "buildkitd")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", nil, fmt.Errorf("buildkitd %s not found (scripts/test.sh builds it; or set LADDER_BUILDKITD): %v", buildkitdVersion, err)
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return "", nil, fmt.Errorf("runc not found (apt-get install runc): %v", err)
	}
	dir, err := os.MkdirTemp("", "ladder-e2e-buildkitd-")
	if err != nil {
		return "", nil, err
	}
	sock := filepath.Join(dir, "buildkitd.sock")
	logf, _ := os.Create(filepath.Join(dir, "buildkitd.log"))
	cmd := exec.Command(bin, "--root", filepath.Join(dir, "root"), "--addr", "unix://"+sock,
		"--oci-worker-snapshotter", "native", "--oci-worker-binary", "runc", "--containerd-worker=false")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		os.RemoveAll(dir)
	}
	addr := "unix://" + sock
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := buildkit.Connect(ctx, addr)
		cancel()
		if err == nil {
			c.Close()
			return addr, stop, nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "buildkitd.log"))
			stop()
			return "", nil, fmt.Errorf("buildkitd did not answer: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mkdirAll(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}
