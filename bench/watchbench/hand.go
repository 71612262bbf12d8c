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

// A by-hand loop: one service built with go build, the old process
// stopped, the new one started.
type byHand struct {
	name  string   // the loop's name, in its files and keys
	flags []string // go build's flags
	dir   string   // the service's package
	bin   string
	port  int
	env   []string
	cmd   *exec.Cmd // the running service
}

// The two ways of building by hand that are measured:
//
//   - plain: `go build -o bin/notifications .`, as a developer types it;
//     the binary keeps its debug information (DWARF and the symbol
//     table), which the linker spends about as long writing as on the
//     rest of the binary.
//   - stripped: ladder's own flags (-trimpath -ldflags="-s -w"), the same
//     binary ladder builds, so the same compile and link work.
var (
	handPlain    = []string{}
	handStripped = []string{"-trimpath", "-ldflags=-s -w"}
)

func (b *bench) startByHand(ctx context.Context, name string, flags []string) (*byHand, error) {
	d, _, err := b.prepare(name)
	if err != nil {
		return nil, err
	}
	port, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	h := &byHand{
		name: name, flags: flags,
		dir: filepath.Join(d.Dir, "services", "notifications"), bin: filepath.Join(b.r.Tmp, name+"-bin", "notifications"), port: port,
		env: append(os.Environ(), fmt.Sprintf("PORT=%d", port), "SEED=42"),
	}
	b.hands = append(b.hands, h)
	if _, err := h.build(ctx); err != nil {
		return nil, err
	}
	if err := h.start(); err != nil {
		return nil, err
	}
	return h, awaitBody(ctx, h.url()+"/bench", "0", time.Minute)
}

func (h *byHand) url() string { return fmt.Sprintf("http://127.0.0.1:%d", h.port) }

func (h *byHand) build(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	args := append(append([]string{"build"}, h.flags...), "-o", h.bin, ".")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = h.dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%s: go build: %v\n%s", h.name, err, out)
	}
	return time.Since(t0), nil
}

func (h *byHand) start() error {
	cmd := exec.Command(h.bin)
	cmd.Env = h.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	h.cmd = cmd
	go cmd.Wait()
	return nil
}

// round is one edit: write, go build, kill, start, poll until it serves.
func (h *byHand) round(ctx context.Context, round int) (took, build time.Duration, err error) {
	t0 := time.Now()
	if err := os.WriteFile(filepath.Join(h.dir, "bench_hook.go"), []byte(hook(h.name, round)), 0o644); err != nil {
		return 0, 0, err
	}
	if build, err = h.build(ctx); err != nil {
		return 0, 0, err
	}
	h.stop()
	if err := h.start(); err != nil {
		return 0, 0, err
	}
	if err := awaitBody(ctx, h.url()+"/bench", fmt.Sprint(round), time.Minute); err != nil {
		return 0, 0, fmt.Errorf("%s round %d: %w", h.name, round, err)
	}
	return time.Since(t0), build, nil
}

// stop stops the service, SIGTERM then SIGKILL.
func (h *byHand) stop() {
	cmd := h.cmd
	if cmd == nil || cmd.Process == nil {
		return
	}
	h.cmd = nil
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	for range 200 {
		if syscall.Kill(cmd.Process.Pid, 0) != nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// stopByHand stops every by-hand loop's service.
func (b *bench) stopByHand(context.Context) error {
	for _, h := range b.hands {
		h.stop()
	}
	return nil
}
