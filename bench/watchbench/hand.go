package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

// byHand is the loop without ladder: one service built and restarted.
type byHand struct {
	dir  string // the service's package
	bin  string
	port int
	env  []string
}

func (b *bench) startByHand(ctx context.Context) (*byHand, error) {
	d, _, err := b.prepare("byhand")
	if err != nil {
		return nil, err
	}
	port, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	h := &byHand{
		dir: filepath.Join(d.Dir, "services", "notifications"), bin: filepath.Join(b.r.Tmp, "byhand-bin", "notifications"), port: port,
		env: append(os.Environ(), fmt.Sprintf("PORT=%d", port), "SEED=42"),
	}
	if _, err := h.build(ctx); err != nil {
		return nil, err
	}
	if err := b.startHand(h); err != nil {
		return nil, err
	}
	return h, awaitBody(ctx, h.url()+"/bench", "0", time.Minute)
}

func (h *byHand) url() string { return fmt.Sprintf("http://127.0.0.1:%d", h.port) }

func (h *byHand) build(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", h.bin, ".")
	cmd.Dir = h.dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("by hand: go build: %v\n%s", err, out)
	}
	return time.Since(t0), nil
}

func (b *bench) startHand(h *byHand) error {
	cmd := exec.Command(h.bin)
	cmd.Env = h.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	b.byHand = cmd
	go cmd.Wait()
	return nil
}

// round is one edit: write, go build, kill, start, poll until it serves.
func (h *byHand) round(ctx context.Context, b *bench, round int) (took, build time.Duration, err error) {
	t0 := time.Now()
	if err := os.WriteFile(filepath.Join(h.dir, "bench_hook.go"), []byte(hook("by hand", round)), 0o644); err != nil {
		return 0, 0, err
	}
	if build, err = h.build(ctx); err != nil {
		return 0, 0, err
	}
	if err := b.stopByHand(ctx); err != nil {
		return 0, 0, err
	}
	if err := b.startHand(h); err != nil {
		return 0, 0, err
	}
	if err := awaitBody(ctx, h.url()+"/bench", fmt.Sprint(round), time.Minute); err != nil {
		return 0, 0, fmt.Errorf("by hand round %d: %w", round, err)
	}
	return time.Since(t0), build, nil
}

// stopByHand stops the by-hand service, SIGTERM then SIGKILL.
func (b *bench) stopByHand(context.Context) error {
	cmd := b.byHand
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	b.byHand = nil
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	for range 200 {
		if syscall.Kill(cmd.Process.Pid, 0) != nil {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return nil
}
