package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pollEvery is how often the by-hand loop probes /healthz. Tighter than
// ladder's start probe (100 ms), so probe granularity favours the baseline.
const pollEvery = 20 * time.Millisecond

// proc is a by-hand service process, in a process group of its own so
// that stopping it stops anything it started too.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once it has exited
}

// startProc starts bin with env added to upbench's environment and
// registers it for cleanup.
func (b *bench) startProc(name, bin, logPath string, env []string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	b.mu.Lock()
	b.procs[p] = true
	b.mu.Unlock()
	return p, nil
}

// stopProc stops p (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (b *bench) stopProc(p *proc) error {
	defer func() {
		b.mu.Lock()
		delete(b.procs, p)
		b.mu.Unlock()
	}()
	pgid := p.cmd.Process.Pid
	select {
	case <-p.done:
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // anything it left in its group
		return nil
	default:
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-p.done:
		return fmt.Errorf("%s (pid %d) ignored SIGTERM for 10s and was killed", p.name, pgid)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) survived SIGKILL for 5s", p.name, pgid)
	}
}

// waitHealthy polls url until it answers 200, p exits, ctx ends or
// timeout passes.
func waitHealthy(ctx context.Context, p *proc, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s not 200 within %s; its log is %s", p.name, url, timeout, p.log)
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was healthy (%v); its log is %s", p.name, p.cmd.ProcessState, p.log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// processesUnder lists the processes whose executable lies under dir:
// ladder agents (the binary is in the temp dir), the instances they unpack
// in .ladder, and the by-hand services.
func processesUnder(dir string) []int {
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.HasPrefix(exe, prefix) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitGone waits up to d for every process under dir to exit and returns
// those still running.
func waitGone(dir string, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		left := processesUnder(dir)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePort is a port nothing listens on right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
