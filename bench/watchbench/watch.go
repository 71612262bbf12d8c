package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

// watcher is a `ladder up --watch` the bench runs.
type watcher struct {
	cmd  *exec.Cmd
	out  harness.Output
	done chan struct{}
	once sync.Once
}

func (w *watcher) output() string { return w.out.String() }

// startWatch runs `ladder up --watch` in dir and waits until it watches.
func startWatch(ctx context.Context, r *harness.Run, dir string, env []string) (*watcher, error) {
	cmd := exec.CommandContext(ctx, r.Bin, "-v", "-C", dir, "up", "--watch", "--dashboard", "127.0.0.1:0", "--timeout", "2m")
	cmd.Env = append(cmd.Environ(), env...)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &watcher{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			w.out.Write([]byte(sc.Text() + "\n"))
		}
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(5 * time.Minute)
	for !strings.Contains(w.output(), "watching for changes") {
		select {
		case <-w.done:
			return nil, fmt.Errorf("ladder up --watch exited:\n%s", w.output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			w.stop()
			return nil, fmt.Errorf("ladder up --watch did not start watching within 5 minutes:\n%s", w.output())
		}
	}
	return w, nil
}

// stop is Ctrl-C, and waits for the stack to stop.
func (w *watcher) stop() {
	w.once.Do(func() {
		_ = w.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-w.done:
		case <-time.After(time.Minute):
			_ = w.cmd.Process.Kill()
			<-w.done
		}
	})
}
