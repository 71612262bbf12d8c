package dockertest

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/docker/docker/client"
)

// TestStartAndStop starts a second engine, reaches it over its socket and
// over TCP, checks it keeps its data apart from the machine's engine and
// that nothing of it is left once its test ends.
func TestStartAndStop(t *testing.T) {
	var e *Engine
	t.Run("engine", func(t *testing.T) {
		e = Start(t)
		c, err := e.Client()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		info, err := c.Info(t.Context())
		if err != nil {
			t.Fatalf("info over %s: %v", e.Socket, err)
		}
		if info.DockerRootDir != e.DataRoot {
			t.Errorf("engine's data root %q, want %q", info.DockerRootDir, e.DataRoot)
		}
		tcp, err := client.NewClientWithOpts(client.WithHost(e.TCP), client.WithAPIVersionNegotiation())
		if err != nil {
			t.Fatal(err)
		}
		defer tcp.Close()
		if info2, err := tcp.Info(t.Context()); err != nil || info2.ID != info.ID {
			t.Errorf("info over %s: %v (ID %q, want %q, the same engine)", e.TCP, err, info2.ID, info.ID)
		}
		// The machine's engine, if any, is another one (engine IDs come
		// from /etc/docker/key.json, the same for both: compare roots).
		if main, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation()); err == nil {
			if mi, err := main.Info(t.Context()); err == nil && mi.DockerRootDir == info.DockerRootDir {
				t.Errorf("the second engine is the machine's (root %s)", mi.DockerRootDir)
			}
			main.Close()
		}
	})
	if e == nil || t.Failed() {
		return
	}
	if _, err := os.Stat(e.dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind (%v)", e.dir, err)
	}
	if _, err := net.InterfaceByName(e.Bridge); err == nil {
		t.Errorf("bridge %s left behind", e.Bridge)
	}
	if e.cmd.ProcessState == nil {
		t.Error("dockerd still runs")
	}
	if out, err := exec.Command("ip", "link", "show", "docker0").CombinedOutput(); err != nil {
		t.Logf("docker0: %v %s (the machine has no default bridge)", err, out)
	}
}

// An engine served over ssh is reached by Docker's own ssh transport
// (docker -H ssh://...), through the test's ssh command, and it is this
// engine, not the machine's.
func TestServeSSH(t *testing.T) {
	e := Start(t)
	s := e.ServeSSH(t)
	cmd := exec.Command("docker", "-H", s.Host, "info", "--format", "{{.DockerRootDir}}")
	cmd.Env = append(os.Environ(), "PATH="+s.PathDir+string(os.PathListSeparator)+os.Getenv("PATH"), "DOCKER_HOST=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker -H %s info: %v\n%s\nsshd:\n%s", s.Host, err, out, s.Log())
	}
	if got := strings.TrimSpace(string(out)); got != e.DataRoot {
		t.Errorf("over ssh the engine's data root is %q, want the second engine's %q", got, e.DataRoot)
	}
	if s.Used() == 0 || !strings.Contains(s.Log(), "Accepted publickey") {
		t.Errorf("the connection did not go through ssh: %d uses, sshd log:\n%s", s.Used(), s.Log())
	}
}
