package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileDir writes compose.yaml into a fresh directory.
func hostileDir(t *testing.T, compose string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// A few hundred bytes of nested YAML aliases stand for billions of nodes:
// validate refuses the file at once instead of expanding it.
func TestValidateRefusesAnAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-a0: &a0 [x,x,x,x,x,x,x,x,x]\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&b, "x-a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 9), ","))
	}
	b.WriteString("services:\n  web:\n    image: nginx\n    x-bomb: *a8\n")
	dir := hostileDir(t, b.String())
	cmd := exec.Command(ladderBin, "-C", dir, "validate")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	begun := time.Now()
	err := cmd.Run()
	took := time.Since(begun)
	if code := exitCode(err); code != 2 {
		t.Fatalf("validate exited %d, want 2\n%s", code, stderr.String())
	}
	if took > 2*time.Second {
		t.Errorf("validate took %s", took)
	}
	if want := "compose.yaml:7:12: x-a6[0]: alias *a5 expands to more than 100,000 YAML nodes"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
	}
	if ps := cmd.ProcessState.SysUsage().(*syscall.Rusage); ps.Maxrss > 100<<10 {
		t.Errorf("validate used %d MB at its peak, want under 100 MB", ps.Maxrss>>10)
	}
}

// SIGTERM while a large (but allowed) stack file loads ends ladder at
// once with exit 130, even though compose-go's loader does not look at
// the context.
func TestSIGTERMWhileLoadingExits130(t *testing.T) {
	dir := hostileDir(t, "services:\n  web:\n    image: nginx\nx-long: ["+strings.TrimSuffix(strings.Repeat("p,", 95_000), ",")+"]\n")
	cmd := exec.Command(ladderBin, "-C", dir, "validate")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Signal once ladder has spent 200 ms of CPU, well into loading
	// (starting takes a few ms): wall time says nothing on a busy machine.
	for cpuTicks(cmd.Process.Pid) < 20 {
		select {
		case err := <-done:
			// Loading 95,000 nodes takes seconds through compose-go; a
			// machine this fast cannot show the interrupt.
			t.Fatalf("validate finished before the signal (exit %d): %s", exitCode(err), stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	select {
	case err := <-done:
		if code := exitCode(err); code != 130 {
			t.Errorf("validate exited %d after SIGTERM, want 130\n%s", code, stderr.String())
		}
		if took := time.Since(signalled); took > time.Second {
			t.Errorf("validate took %s to stop after SIGTERM", took)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("validate still running 10 s after SIGTERM")
	}
}

// A dashboard other machines reach is refused before anything is built,
// unless allowed; allowed, up warns.
func TestRemoteDashboardNeedsTheOptIn(t *testing.T) {
	p := newProject(t)
	begun := time.Now()
	res := p.run("up", "-d", "--dashboard", "0.0.0.0:0")
	if res.code != 2 || !strings.Contains(res.stderr, "dashboard address 0.0.0.0:0 is reachable from other machines") ||
		!strings.Contains(res.stderr, "--dashboard-allow-remote") {
		t.Fatalf("up with a remote dashboard: %s", res)
	}
	if took := time.Since(begun); took > 10*time.Second {
		t.Errorf("refusing took %s: it must come before the build", took)
	}
	if _, err := os.Stat(filepath.Join(p.dir, ".ladder", "artifacts", "index.json")); err == nil {
		t.Error("something was built before the dashboard address was refused")
	}
	res = p.run("up", "-d", "--dashboard", "0.0.0.0:0", "--dashboard-allow-remote")
	if res.code != 0 {
		t.Fatalf("up --dashboard-allow-remote: %s", res)
	}
	if !strings.Contains(res.stderr, "warning: dashboard address 0.0.0.0:0 is reachable from other machines") {
		t.Errorf("up with an allowed remote dashboard does not warn:\n%s", res.stderr)
	}
	if st, _ := p.status(); !strings.Contains(st.Agent.URL, "0.0.0.0:") && !strings.Contains(st.Agent.URL, "[::]:") {
		t.Errorf("the agent serves %s, want every interface", st.Agent.URL)
	}
}

// cpuTicks is the CPU time pid has used, in clock ticks (1/100 s).
func cpuTicks(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}
