package registrytest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"
)

// Binary is the registry program (Debian package docker-registry).
const Binary = "docker-registry"

// Busybox is the static busybox put into test images (Debian package
// busybox-static).
const Busybox = "/bin/busybox"

// Server is a running registry.
type Server struct {
	// Addr is "127.0.0.1:PORT": image references start with it.
	Addr string
	cmd  *exec.Cmd
	done chan error
	log  *bytes.Buffer
}

// Auth makes the registry require basic auth (htpasswd).
type Auth struct{ User, Password string }

// StartServer starts a registry storing its data under dir. With auth,
// every request needs those credentials. Stop it with Close.
func StartServer(dir string, auth *Auth) (*Server, error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, fmt.Errorf("%s not found (apt-get install docker-registry): %w", Binary, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog: {disabled: true}
storage:
  filesystem:
    rootdirectory: %s
  delete: {enabled: true}
http:
  addr: %s
  debug: {addr: ""}
`, filepath.Join(dir, "data"), addr)
	if auth != nil {
		hash, err := bcrypt.GenerateFromPassword([]byte(auth.Password), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		pw := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(pw, []byte(auth.User+":"+string(hash)+"\n"), 0o600); err != nil {
			return nil, err
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: ladder-test\n    path: %s\n", pw)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	s := &Server{Addr: addr, done: make(chan error, 1), log: &bytes.Buffer{}}
	s.cmd = exec.Command(bin, "serve", cfgPath)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("%s exited (%v): %s", Binary, err, s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.Close()
			return nil, fmt.Errorf("%s did not answer on %s within 15s: %s", Binary, addr, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close stops the registry.
func (s *Server) Close() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd.Process = nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// missing skips the test, or fails it under CI=true, where every
// component is installed by scripts/test.sh.
func missing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	t.Skip(err)
}

// Start starts a registry for the test, stopped when it ends.
func Start(t testing.TB, auth *Auth) *Server {
	t.Helper()
	if _, err := exec.LookPath(Binary); err != nil {
		missing(t, fmt.Errorf("%s not found: apt-get install docker-registry (scripts/test.sh does)", Binary))
	}
	s, err := StartServer(t.TempDir(), auth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// BusyboxImage is a FROM-scratch image holding the static busybox and the
// files given (path -> content), that runs `busybox httpd` on port 8080
// serving /www (so /www/healthz answers 200). Different files give
// different images.
func BusyboxImage(files map[string]string) (v1.Image, error) {
	bin, err := os.ReadFile(Busybox)
	if err != nil {
		return nil, fmt.Errorf("static busybox (apt-get install busybox-static): %w", err)
	}
	base, err := layer(map[string][]byte{"bin/busybox": bin}, 0o755)
	if err != nil {
		return nil, err
	}
	fs := map[string][]byte{"www/healthz": []byte("ok\n")}
	for p, c := range files {
		fs[p] = []byte(c)
	}
	top, err := layer(fs, 0o644)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, base, top)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Entrypoint = []string{"/bin/busybox"}
	cf.Config.Cmd = []string{"httpd", "-f", "-p", "8080", "-h", "/www"}
	cf.Config.Env = []string{"PATH=/bin"}
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	return mutate.ConfigFile(img, cf)
}

// Image is BusyboxImage for a test.
func Image(t testing.TB, files map[string]string) v1.Image {
	t.Helper()
	if _, err := os.Stat(Busybox); err != nil {
		missing(t, fmt.Errorf("%s not found: apt-get install busybox-static (scripts/test.sh does)", Busybox))
	}
	img, err := BusyboxImage(files)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layer is a gzipped tar layer of files, every entry at the epoch.
func layer(files map[string][]byte, mode int64) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	dirs := map[string]bool{}
	for _, p := range paths {
		for d := filepath.Dir(p); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(files[p])), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[p]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }, tarball.WithMediaType(types.OCILayer))
}

// PushImage pushes img to ref ("127.0.0.1:PORT/repo:tag") with auth (nil:
// anonymous) and returns its digest.
func PushImage(ctx context.Context, img v1.Image, ref string, auth *Auth) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	a := authn.Anonymous
	if auth != nil {
		a = &authn.Basic{Username: auth.User, Password: auth.Password}
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithAuth(a)); err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// Push is PushImage for a test.
func Push(t testing.TB, img v1.Image, ref string, auth *Auth) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := PushImage(ctx, img, ref, auth)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
