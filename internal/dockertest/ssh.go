package dockertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SSH is an OpenSSH server on 127.0.0.1 whose sessions reach an engine:
// the way a team reaches a remote Docker host (DOCKER_HOST=ssh://...).
type SSH struct {
	// Host is the engine's address over ssh: ssh://USER@127.0.0.1:PORT.
	Host string
	// PathDir holds an ssh command that uses the test's client key and
	// trusts the server's host key; put it first on a client's PATH. It
	// records each connection in Calls.
	PathDir string
	// Calls is the file the ssh command appends one line to per use.
	Calls string

	log string
}

// ServeSSH starts sshd for the engine's user (the test's own), taking one
// client key, whose sessions run with DOCKER_HOST set to the engine's
// socket: `docker system dial-stdio` there, which Docker's ssh transport
// runs, reaches this engine and no other. It stops when t ends. It needs
// Debian's openssh-server (sshd) and openssh-client (ssh, ssh-keygen).
func (e *Engine) ServeSSH(t testing.TB) *SSH {
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		sshd = "/usr/sbin/sshd"
		if _, err := os.Stat(sshd); err != nil {
			missing(t, "no sshd (apt-get install openssh-server)")
		}
	}
	for _, tool := range []string{"ssh", "ssh-keygen", "docker"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, "no %s (apt-get install openssh-client docker.io)", tool)
		}
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	for _, key := range []string{"host_key", "client_key"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path(key)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(path("client_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path(name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("authorized_keys", string(pub), 0o600)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// StrictModes off: the files live in the test's temp directory, not
	// a home directory sshd would vet.
	write("sshd_config", fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers %s
StrictModes no
UsePAM no
SetEnv DOCKER_HOST=%s
`, port, path("host_key"), path("sshd.pid"), path("authorized_keys"), u.Username, e.Socket), 0o600)
	write("ssh_config", fmt.Sprintf(`Host *
  IdentityFile %s
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  BatchMode yes
  LogLevel ERROR
`, path("client_key")), 0o600)
	if err := os.Mkdir(path("bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	realSSH, _ := exec.LookPath("ssh")
	write("bin/ssh", fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %s\nexec %s -F %s \"$@\"\n", path("calls"), realSSH, path("ssh_config")), 0o755)

	s := &SSH{Host: fmt.Sprintf("ssh://%s@127.0.0.1:%d", u.Username, port), PathDir: path("bin"), Calls: path("calls"), log: path("sshd.log")}
	// sshd checks for its privilege-separation directory at start.
	_ = os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command(sshd, "-D", "-f", path("sshd_config"), "-E", s.log)
	if out, err := exec.Command(sshd, "-t", "-f", path("sshd_config")).CombinedOutput(); err != nil {
		t.Fatalf("sshd -t: %v\n%s", err, out)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case err := <-exited:
			t.Fatalf("sshd exited: %v\n%s", err, s.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd does not listen on 127.0.0.1:%d\n%s", port, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log is what sshd logged: its connections, with the keys they used.
func (s *SSH) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// Used is how many times the ssh command ran.
func (s *SSH) Used() int {
	b, _ := os.ReadFile(s.Calls)
	return strings.Count(string(b), "\n")
}
