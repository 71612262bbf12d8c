package dockertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

// Engine is a running second Docker engine.
type Engine struct {
	// Socket is its unix socket, as a Docker host: unix:///...
	Socket string
	// TCP is its plain-TCP address on loopback: tcp://127.0.0.1:PORT.
	TCP string
	// DataRoot is where it keeps images and containers.
	DataRoot string
	// Bridge is the name of its default bridge.
	Bridge string
	// TLS, for an engine from StartTLS, holds the client's files: the CA
	// that signed the engine's certificate and a client certificate and
	// key it accepts. TCP then only takes TLS with that certificate.
	TLS *ClientTLS

	dir    string
	cmd    *exec.Cmd
	exited chan error
}

// missing fails the test under CI=true and skips it elsewhere.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("dockertest: "+format, args...)
	}
	t.Skipf("dockertest: "+format, args...)
}

// Start starts a second engine and stops it, removing its containers,
// bridge and directories, when t ends.
func Start(t testing.TB) *Engine {
	t.Helper()
	return start(t, false)
}

// StartTLS is Start for an engine whose TCP address requires TLS with a
// client certificate (dockerd --tlsverify), made for the test by a CA of
// its own; Engine.TLS has the client's files.
func StartTLS(t testing.TB) *Engine {
	t.Helper()
	return start(t, true)
}

func start(t testing.TB, withTLS bool) *Engine {
	t.Helper()
	for _, bin := range []string{"dockerd", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing(t, "%s not found (apt-get install docker.io iproute2): %v", bin, err)
		}
	}
	if os.Geteuid() != 0 {
		missing(t, "a second dockerd needs root")
	}
	// Short: the socket path must fit in sun_path (108 bytes).
	dir, err := os.MkdirTemp("", "ldt")
	if err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("%05d", rand.IntN(100000))
	e := &Engine{dir: dir, DataRoot: filepath.Join(dir, "data"), Bridge: "ldt" + tag}
	sock := filepath.Join(dir, "docker.sock")
	e.Socket = "unix://" + sock
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	e.TCP = fmt.Sprintf("tcp://127.0.0.1:%d", port)
	t.Cleanup(func() { e.stop(t) })

	// A bridge of its own: the engine would otherwise take the machine's
	// docker0 and fight the main engine over it (and --bridge none
	// deletes docker0 altogether).
	subnet, err := freeSubnet()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"link", "add", e.Bridge, "type", "bridge"},
		{"addr", "add", subnet, "dev", e.Bridge},
		{"link", "set", e.Bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("dockertest: ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// An empty config file: the machine's daemon.json sets a data root
	// (and would apply to this engine too).
	cfg := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfg, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	var tlsArgs []string
	if withTLS {
		server, err := makeCerts(dir)
		if err != nil {
			t.Fatalf("dockertest: certificates: %v", err)
		}
		e.TLS = &server.client
		tlsArgs = []string{"--tlsverify", "--tlscacert", server.client.CA, "--tlscert", server.cert, "--tlskey", server.key}
	}
	e.cmd = exec.Command("dockerd", append(tlsArgs,
		"--config-file", cfg,
		"--data-root", e.DataRoot,
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"-H", e.Socket, "-H", e.TCP,
		"--bridge", e.Bridge, "--iptables=false",
		"--storage-driver", "vfs",
		"--containerd-namespace", "ldt"+tag,
		"--containerd-plugins-namespace", "ldt"+tag+"-plugins",
	)...)
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	// Its own process group, so that a test killed half-way does not
	// take the engine's shims with it mid-write.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("dockertest: start dockerd: %v", err)
	}
	exited := make(chan error, 1)
	e.exited = exited
	go func() { exited <- e.cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for {
		c, err := e.Client()
		if err == nil {
			_, err = c.Ping(ctx)
			c.Close()
			if err == nil {
				break
			}
		}
		select {
		case werr := <-exited:
			e.cmd = nil
			t.Fatalf("dockertest: dockerd exited: %v\n%s", werr, e.log())
		case <-ctx.Done():
			t.Fatalf("dockertest: dockerd did not answer on %s within 90s: %v\n%s", e.Socket, err, e.log())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return e
}

// Client returns an SDK client of the engine, over its socket.
func (e *Engine) Client() (*client.Client, error) {
	return client.NewClientWithOpts(client.WithHost(e.Socket), client.WithAPIVersionNegotiation())
}

func (e *Engine) log() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "dockerd.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stop removes the engine's containers (their shims would outlive it),
// stops dockerd, deletes the bridge and the directories.
func (e *Engine) stop(t testing.TB) {
	if e.cmd != nil && e.cmd.Process != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		if c, err := e.Client(); err == nil {
			if list, err := c.ContainerList(ctx, container.ListOptions{All: true}); err == nil {
				for _, ct := range list {
					_ = c.ContainerRemove(ctx, ct.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
				}
			}
			c.Close()
		}
		cancel()
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(30 * time.Second):
			_ = e.cmd.Process.Kill()
			<-e.exited
			t.Logf("dockertest: dockerd did not stop on SIGTERM within 30s; killed")
		}
	}
	if out, err := exec.Command("ip", "link", "del", e.Bridge).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
		t.Errorf("dockertest: ip link del %s: %v\n%s", e.Bridge, err, out)
	}
	unmountUnder(e.dir)
	if err := os.RemoveAll(e.dir); err != nil {
		t.Errorf("dockertest: remove %s: %v", e.dir, err)
	}
}

// unmountUnder detaches whatever is still mounted below dir (network
// namespaces of the exec root, say), deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			points = append(points, f[1])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		_ = syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freeSubnet picks a /24 in 10.213.0.0/16 that no interface uses.
func freeSubnet() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for range 64 {
		n := 1 + rand.IntN(254)
		_, cand, _ := net.ParseCIDR(fmt.Sprintf("10.213.%d.0/24", n))
		used := false
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && (cand.Contains(ipn.IP) || ipn.Contains(cand.IP)) {
				used = true
			}
		}
		if !used {
			return fmt.Sprintf("10.213.%d.1/24", n), nil
		}
	}
	return "", errors.New("no free 10.213.x.0/24 subnet")
}
