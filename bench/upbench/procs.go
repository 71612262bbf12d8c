package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
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
