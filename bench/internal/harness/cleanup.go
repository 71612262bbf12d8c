package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tracked is a stack directory ladder may have started something in, and
// how to take it down.
type tracked struct {
	dir   string
	env   []string
	downs [][]string
}

// Track registers the stack directory dir for Cleanup, as soon as it
// exists and before ladder first runs there, so that a failure or Ctrl-C
// at any later point still takes it down. Cleanup runs `ladder -C dir
// DOWN` for each DOWN of downs (for example {"down"}, or one {"down",
// "--env", E} per rung), with env added, the same env the program runs
// ladder with there: a compose stack is only found under its own project
// name. It is safe to call from several goroutines.
func (r *Run) Track(dir string, env []string, downs ...[]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stacks = append(r.stacks, tracked{dir: dir, env: env, downs: downs})
}

// Hooks are the parts of a cleanup only the program knows, in the order
// Cleanup runs them. Any may be nil.
type Hooks struct {
	// Before runs first: processes the program started itself (the
	// by-hand baseline), stopped gently before the /proc scan would kill
	// them and report them as left behind.
	Before func(context.Context) error
	// After runs once every tracked stack is down, before the /proc scan:
	// what the program started outside ladder (docker-compose projects,
	// image tags).
	After func(context.Context) error
	// Sweep runs last, once no process from Tmp is left to start anything
	// again: a search for anything still named after the run, which it
	// removes and reports.
	Sweep func(context.Context) error
}

// Cleanup stops everything the run started, whatever state the run was
// left in, within timeout: h.Before; `ladder down` in every tracked stack
// where ladder ever ran (it has a .ladder), exit code ExitNotRunning
// counting as done; h.After; then any process whose executable still lies
// under Tmp (ladder agents, the instances they unpack, by-hand services)
// is given 15 s to exit, then killed and reported; h.Sweep; and Tmp is
// removed unless Keep. It always runs every step, and returns every
// failure: anything found left behind is a failure even once removed, so
// a leak is never silent.
func (r *Run) Cleanup(timeout time.Duration, h Hooks) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	step := func(f func(context.Context) error) {
		if f != nil {
			errs = append(errs, f(ctx))
		}
	}
	step(h.Before)
	errs = append(errs, r.downAll(ctx)...)
	step(h.After)
	if left := WaitGone(r.Tmp, 15*time.Second); len(left) > 0 {
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		errs = append(errs, fmt.Errorf("processes still running from %s after cleanup (killed): %v", r.Tmp, left))
	}
	step(h.Sweep)
	if r.Keep {
		r.Logf("kept %s", r.Tmp)
	} else {
		errs = append(errs, os.RemoveAll(r.Tmp))
	}
	return errors.Join(errs...)
}

// downAll runs the downs of every tracked stack ladder ran in.
func (r *Run) downAll(ctx context.Context) []error {
	if _, err := os.Stat(r.Bin); err != nil {
		return nil // no ladder was ever built: it cannot have started anything
	}
	r.mu.Lock()
	stacks := append([]tracked(nil), r.stacks...)
	r.mu.Unlock()
	var errs []error
	for _, s := range stacks {
		if _, err := os.Stat(filepath.Join(s.dir, ".ladder")); err != nil {
			continue // ladder never ran here
		}
		for _, down := range s.downs {
			what := "ladder " + strings.Join(down, " ") + " in " + s.dir
			res, err := r.Ladder(ctx, s.dir, s.env, down...)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", what, err))
			} else if res.Code != 0 && res.Code != ExitNotRunning {
				errs = append(errs, fmt.Errorf("%s: exit %d: %s", what, res.Code, Tail(res.Stderr)))
			}
		}
	}
	return errs
}

// ProcessesUnder lists the processes whose executable lies under dir.
// Everything a run starts runs from its temp dir: the ladder binary and
// its agents, the service instances they unpack in .ladder, the by-hand
// builds. So this finds what a run left behind, and nothing of anyone
// else's.
func ProcessesUnder(dir string) []int {
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

// WaitGone waits up to d for every process under dir to exit and returns
// those still running. Processes take a moment to exit after `ladder
// down` returns, so a single look would report false leaks.
func WaitGone(dir string, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		left := ProcessesUnder(dir)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stopped fails if any process under dir still runs 15 s after a `ladder
// down` there: the down did not do its work, which the run must not go
// on to measure past.
func Stopped(dir string) error {
	if left := WaitGone(dir, 15*time.Second); len(left) > 0 {
		return fmt.Errorf("processes from %s still running 15s after ladder down: %v", dir, left)
	}
	return nil
}
