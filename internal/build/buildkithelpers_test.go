package build

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/client"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	gtypes "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ladderhq/ladder/internal/buildkit"
)

// BuildKitdVersion is the buildkitd the tests run beside the engine (the
// engine's own BuildKit may be too old for current Dockerfile syntax);
// scripts/test.sh builds it into the cache dir buildkitdPath looks in.
const BuildKitdVersion = "v0.18.2"

// cleanups run when the test binary ends: what several tests share.
var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

func atExit(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

func TestMain(m *testing.M) {
	code := m.Run()
	cleanupMu.Lock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanupMu.Unlock()
	os.Exit(code)
}

// missing skips the test, or fails it on CI (CI=true), where every
// component is installed by scripts/test.sh.
func missing(t *testing.T, format string, a ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, a...)
	}
	t.Skipf(format, a...)
}

// buildkitdPath finds buildkitd: $LADDER_BUILDKITD, the cache scripts/test.sh
// builds it into, or PATH.
func buildkitdPath() string {
	if p := os.Getenv("LADDER_BUILDKITD"); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "ladder-ci", "bin", "buildkit-"+BuildKitdVersion, "buildkitd")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	p, _ = exec.LookPath("buildkitd")
	return p
}

var (
	bkdOnce sync.Once
	bkdAddr string
	bkdErr  error
)

// buildkitd returns the address of a buildkitd this test binary started
// (once, stopped at exit), with its own root and socket in a temp dir.
func buildkitd(t *testing.T) string {
	t.Helper()
	bkdOnce.Do(func() {
		bin := buildkitdPath()
		if bin == "" {
			bkdErr = fmt.Errorf("buildkitd %s not found (scripts/test.sh builds it; or set LADDER_BUILDKITD)", BuildKitdVersion)
			return
		}
		if _, err := exec.LookPath("runc"); err != nil {
			bkdErr = fmt.Errorf("runc not found (apt-get install runc): %v", err)
			return
		}
		dir, err := os.MkdirTemp("", "ladder-buildkitd-")
		if err != nil {
			bkdErr = err
			return
		}
		sock := filepath.Join(dir, "buildkitd.sock")
		logf, _ := os.Create(filepath.Join(dir, "buildkitd.log"))
		cmd := exec.Command(bin, "--root", filepath.Join(dir, "root"), "--addr", "unix://"+sock,
			"--oci-worker-snapshotter", "native", "--oci-worker-binary", "runc", "--containerd-worker=false")
		cmd.Stdout, cmd.Stderr = logf, logf
		// The daemon goes with the test binary, however that ends.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			bkdErr = err
			return
		}
		atExit(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
			logf.Close()
			os.RemoveAll(dir)
		})
		addr := "unix://" + sock
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, err := buildkit.Connect(ctx, addr)
			cancel()
			if err == nil {
				c.Close()
				bkdAddr = addr
				return
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "buildkitd.log"))
				bkdErr = fmt.Errorf("buildkitd did not answer: %v\n%s", err, log)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	if bkdErr != nil {
		missing(t, "%v", bkdErr)
	}
	return bkdAddr
}

var (
	bbOnce sync.Once
	bbRef  string
	bbErr  error
)

// busybox returns the tag of a busybox image in the engine, assembled
// from Debian's static busybox (busybox-static) with go-containerregistry
// and loaded once per test binary (removed at exit): a base image with a
// shell that is never pulled.
func busybox(t *testing.T, cli *client.Client) string {
	t.Helper()
	bbOnce.Do(func() {
		img, err := busyboxImage()
		if err != nil {
			bbErr = err
			return
		}
		ref := uniqueName("ladder-test-busybox-") + ":1"
		if _, err := LoadImage(context.Background(), cli, img, ref); err != nil {
			bbErr = err
			return
		}
		atExit(func() { cli.ImageRemove(context.Background(), ref, imageRemoveOptions) })
		bbRef = ref
	})
	if bbErr != nil {
		missing(t, "busybox base image: %v", bbErr)
	}
	return bbRef
}

// busyboxApplets are linked to /bin/busybox in the test base image.
var busyboxApplets = []string{"sh", "cat", "echo", "test", "ls", "mkdir", "wc", "cp", "true", "false", "touch", "id", "env", "grep", "rm", "sleep", "sha256sum"}

func busyboxImage() (v1.Image, error) {
	const path = "/bin/busybox"
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%v (apt-get install busybox-static)", err)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return nil, err
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s is dynamically linked: install busybox-static", path)
		}
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	hdrs := []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755},
		{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin))},
		{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777},
	}
	for _, a := range busyboxApplets {
		hdrs = append(hdrs, &tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox"})
	}
	for _, h := range hdrs {
		h.ModTime = epoch
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Name == "bin/busybox" {
			tw.Write(bin)
		}
	}
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tb.Bytes())), nil },
		tarball.WithMediaType(gtypes.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, gtypes.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, gtypes.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Env = []string{"PATH=/bin"}
	cf.Config.Cmd = []string{"/bin/sh"}
	return mutate.ConfigFile(img, cf)
}

// imageFiles returns the regular files of img's filesystem and their content.
func imageFiles(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[strings.TrimPrefix(hdr.Name, "/")] = string(b)
		}
	}
	return files
}

// noBuildKitEngine serves the Docker API of the engine DOCKER_HOST names,
// except the BuildKit endpoints, as an engine without BuildKit answers
// (404): the real engine, seen as one that predates BuildKit.
func noBuildKitEngine(t *testing.T) *client.Client {
	t.Helper()
	engine(t)
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = client.DefaultDockerHost
	}
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "unix" {
		missing(t, "the BuildKit-less engine proxy needs a unix DOCKER_HOST, not %q", host)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", u.Path)
		}},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/grpc") || strings.HasSuffix(r.URL.Path, "/session") {
			http.Error(w, "page not found", http.StatusNotFound)
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	cli, err := client.NewClientWithOpts(client.WithHost("tcp://"+ln.Addr().String()), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}
