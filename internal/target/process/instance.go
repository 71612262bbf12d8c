package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/store"
)

// Restart backoff: doubling from backoffMin to backoffMax, reset once an
// instance has stayed up for backoffReset.
const (
	backoffMin   = 250 * time.Millisecond
	backoffMax   = 30 * time.Second
	backoffReset = 10 * time.Second
	// startProbeEvery is the probe pace until an instance is first
	// healthy, so a release does not wait a whole interval for it. An HTTP
	// probe of a local port costs well under a millisecond and a Go
	// service listens a few milliseconds after it starts, so HTTP probes
	// start at quickProbeEvery for the first quickProbes probes: every
	// millisecond there is one off every replacement, which `up --watch`
	// does on each save. A command probe starts a process, and keeps to
	// startProbeEvery.
	startProbeEvery = 20 * time.Millisecond
	quickProbeEvery = 4 * time.Millisecond
	quickProbes     = 50
	lastLinesKept   = 40
)

// instance is one supervised replica of a service.
type instance struct {
	t        *Target
	site     render.SiteRef
	svc      render.Service
	slot     string
	snapshot string
	argv     []string
	env      []string
	dir      string
	ports    map[int]int
	log      *serviceLog

	mu       sync.Mutex
	state    plan.State
	health   string
	detail   string // last health probe detail
	exitCode int
	restarts int
	pid      int
	started  time.Time
	stopping bool
	// restartNow is set by Target.Restart: the next exit restarts the
	// process at once, whatever the restart policy.
	restartNow bool
	lines      []string
	changed    chan struct{} // closed and replaced on every change

	cancel context.CancelFunc
	done   chan struct{}
}

func (in *instance) status() (plan.State, string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.state, in.health
}

// update changes the instance's fields under its lock and wakes waiters.
func (in *instance) update(f func()) {
	in.mu.Lock()
	f()
	close(in.changed)
	in.changed = make(chan struct{})
	in.mu.Unlock()
}

func (in *instance) observe() plan.Instance {
	in.mu.Lock()
	defer in.mu.Unlock()
	return plan.Instance{
		Service: in.svc.Name, Slot: in.slot, Snapshot: in.snapshot,
		Digest: in.svc.Digest, Config: in.svc.Config,
		State: in.state, Health: in.health, ExitCode: in.exitCode,
		Restarts: in.restarts, Addr: "127.0.0.1", Ports: in.ports, ID: fmt.Sprint(in.pid), Started: in.started,
	}
}

func (in *instance) lastLines() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.lines...)
}

func (in *instance) addLine(line string) { in.addLines([]string{line}) }

// addLines keeps the last lastLinesKept lines for crash reports.
func (in *instance) addLines(lines []string) {
	if len(lines) > lastLinesKept {
		lines = lines[len(lines)-lastLinesKept:]
	}
	in.mu.Lock()
	in.lines = append(in.lines, lines...)
	if len(in.lines) > lastLinesKept {
		in.lines = append(in.lines[:0:0], in.lines[len(in.lines)-lastLinesKept:]...)
	}
	in.mu.Unlock()
}

// supervise runs the instance's process, restarting it per the service's
// restart policy, until ctx ends or stop is called.
func (in *instance) supervise(ctx context.Context) {
	defer close(in.done)
	backoff := backoffMin
	for attempt := 0; ; attempt++ {
		began := time.Now()
		code, err := in.runOnce(ctx, attempt)
		in.mu.Lock()
		stopping, now := in.stopping, in.restartNow
		in.restartNow = false
		in.mu.Unlock()
		if now && !stopping && ctx.Err() == nil {
			in.update(func() { in.state = plan.StateRestarting })
			in.t.event(in, store.EventRestarted, fmt.Sprintf("%s %s restarted (files synced)", in.svc.Name, in.slot), map[string]string{"exitCode": fmt.Sprint(code)})
			continue
		}
		if stopping || ctx.Err() != nil {
			in.update(func() { in.state = plan.StateExited; in.exitCode = code; in.health = healthAfterExit(in.health) })
			return
		}
		reason := fmt.Sprintf("exited with code %d", code)
		if err != nil {
			reason = err.Error()
		}
		in.update(func() { in.state = plan.StateExited; in.exitCode = code; in.health = healthAfterExit(in.health) })
		in.mu.Lock()
		restarts := in.restarts
		in.mu.Unlock()
		if !shouldRestart(in.svc.Restart, in.svc.MaxRestarts, restarts, code) {
			in.t.event(in, store.EventInstanceStopped, fmt.Sprintf("%s %s %s", in.svc.Name, in.slot, reason), nil)
			return
		}
		if time.Since(began) > backoffReset {
			backoff = backoffMin
		}
		in.update(func() { in.state = plan.StateRestarting })
		in.t.event(in, store.EventRestarted, fmt.Sprintf("%s %s %s; restarting in %s", in.svc.Name, in.slot, reason, backoff),
			map[string]string{"exitCode": fmt.Sprint(code), "backoff": backoff.String()})
		select {
		case <-ctx.Done():
			in.update(func() { in.state = plan.StateExited })
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, backoffMax)
		in.update(func() { in.restarts++ })
	}
}

func shouldRestart(policy string, maxRestarts, restarts, code int) bool {
	switch policy {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (maxRestarts == 0 || restarts < maxRestarts)
	}
	return false
}

// runOnce starts the process and waits for it to end, probing its health
// meanwhile. It returns the exit code (-1 when it could not start).
func (in *instance) runOnce(ctx context.Context, attempt int) (int, error) {
	cmd := exec.Command(in.argv[0], in.argv[1:]...)
	cmd.Env = in.env
	cmd.Dir = in.dir
	// Own process group so a stop reaches the process's children too, and
	// die with ladder so a killed ladder leaves no orphan serving.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A pipe of our own rather than an io.Writer: exec would otherwise
	// copy the output through a goroutine of its own first.
	pr, pw, err := os.Pipe()
	if err != nil {
		return -1, fmt.Errorf("could not start: %w", err)
	}
	cmd.Stdout = pw
	cmd.Stderr = pw
	copied := make(chan struct{})
	var exited atomic.Bool
	go func() {
		defer close(copied)
		in.capture(pr, &exited)
	}()
	err = cmd.Start()
	// The child holds its own copy of the write end now.
	pw.Close()
	if err != nil {
		exited.Store(true)
		<-copied
		pr.Close()
		in.addLine(err.Error())
		return -1, fmt.Errorf("could not start: %w", err)
	}
	now := time.Now()
	in.update(func() {
		in.pid = cmd.Process.Pid
		in.state = plan.StateRunning
		in.started = now
		if in.svc.Health != nil {
			in.health = plan.HealthStarting
		}
	})
	in.t.record(in)
	if attempt == 0 {
		in.t.event(in, store.EventInstanceStarted, fmt.Sprintf("%s %s started (pid %d)", in.svc.Name, in.slot, cmd.Process.Pid), nil)
	}
	probeCtx, stopProbe := context.WithCancel(ctx)
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		in.probe(probeCtx)
	}()
	err = cmd.Wait()
	stopProbe()
	<-probed
	// A child the process left behind may hold the pipe open: read what
	// is there, but do not wait for it forever.
	exited.Store(true)
	_ = pr.SetReadDeadline(time.Now().Add(time.Second))
	<-copied
	pr.Close()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return -1, err
		}
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	return code, nil
}

// stop ends the instance: its stop signal (stop_signal, SIGTERM by
// default) to its process group, SIGKILL after the service's grace period.
func (in *instance) stop(ctx context.Context) {
	in.mu.Lock()
	in.stopping = true
	pid, state := in.pid, in.state
	in.mu.Unlock()
	if state == plan.StateRunning && pid > 0 {
		_ = syscall.Kill(-pid, stopSignal(in.svc))
	}
	grace := in.svc.StopGrace
	select {
	case <-in.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-in.done
	case <-ctx.Done():
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-in.done
	}
	in.cancel()
	in.t.forget(in)
}

// wait blocks until cond holds for the instance, ctx ends, or the instance
// exits, whichever is first.
func (in *instance) wait(ctx context.Context, cond func(*instance) (done bool, err error)) error {
	for {
		in.mu.Lock()
		ch := in.changed
		in.mu.Unlock()
		done, err := cond(in)
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
