// Package harness is what the benchmark programs under bench/ (upbench,
// composebench, ladderbench) share: one run's temp dir and ladder binary,
// copies of the trading demo, running ladder and other commands, reading
// `ladder up -o json`, statistics and Markdown tables, the environment the
// figures were taken in, and the cleanup that stops everything a run
// started.
//
// It holds no measurement: what each program times and checks stays in
// the program. What is here is the part that must behave the same in all
// of them, above all the cleanup guarantees: a program that registers
// every stack it runs ladder in (Run.Track) and calls Run.Cleanup leaves
// no ladder stack, agent or service process behind, on failure and on
// Ctrl-C too.
//
// A program's main follows one shape:
//
//	ctx, stop := harness.SignalContext()
//	defer stop()
//	r, err := harness.New("upbench", keep)
//	// ... r.InstallLadder, measure, r.Track every copy ladder runs in ...
//	cleanErr := r.Cleanup(timeout, harness.Hooks{...})
//	if !r.Outcome(ctx, runErr, cleanErr) { return 1 }
//	// ... print the report, r.WriteResults(out, "up", md)
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Run is one run of a benchmark program: where it works and the ladder
// stacks its cleanup must take down.
type Run struct {
	Tool string // the program's name: prefix of its progress lines and errors
	Repo string // module root of the ladder repository
	Tmp  string // everything the run creates lives here
	Bin  string // the ladder binary measured, Tmp/bin/ladder
	Keep bool   // keep Tmp after cleanup, for inspection

	mu     sync.Mutex
	stacks []tracked
}

// SignalContext is a context that Ctrl-C or SIGTERM cancels. Until stop is
// called further signals are swallowed, so a second Ctrl-C cannot cut the
// cleanup short (the cleanup is bounded by its own timeout instead).
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// New finds the repository the program runs in and makes the run's temp
// dir (TMPDIR/tool-*).
func New(tool string, keep bool) (*Run, error) {
	repo, err := ModuleRoot(tool)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", tool+"-")
	if err != nil {
		return nil, err
	}
	return &Run{Tool: tool, Repo: repo, Tmp: tmp, Bin: filepath.Join(tmp, "bin", "ladder"), Keep: keep}, nil
}

// Logf writes a progress line to stderr; stdout is kept for the report.
func (r *Run) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, r.Tool+": "+format+"\n", args...)
}

// InstallLadder puts the binary to measure at r.Bin: a copy of given, or
// `go build ./cmd/ladder` of the working tree when given is "". A given
// binary is copied rather than run in place so that the final /proc scan
// of Tmp finds the agents it starts.
func (r *Run) InstallLadder(ctx context.Context, given string) error {
	if given != "" {
		data, err := os.ReadFile(given)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(r.Bin), 0o755)
		}
		if err == nil {
			err = os.WriteFile(r.Bin, data, 0o755)
		}
		if err != nil {
			return fmt.Errorf("copying -ladder %s: %w", given, err)
		}
		return nil
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", r.Bin, "./cmd/ladder")
	build.Dir = r.Repo
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/ladder: %v\n%s", err, out)
	}
	return nil
}

// Outcome prints why the run failed (as interrupted when ctx was
// cancelled) and why the cleanup failed, and reports whether both
// succeeded. The cleanup's error is printed even when the run failed:
// something left running matters more than the figures.
func (r *Run) Outcome(ctx context.Context, runErr, cleanErr error) bool {
	if runErr != nil {
		if ctx.Err() != nil {
			runErr = fmt.Errorf("interrupted: %w", runErr)
		}
		r.Logf("FAILED: %v", runErr)
	}
	if cleanErr != nil {
		r.Logf("cleanup: %v", cleanErr)
	}
	return runErr == nil && cleanErr == nil
}

// WriteResults writes md to out, or to bench/results/NAME-DATE.md in the
// repository when out is "" (overwriting that day's earlier run); "-"
// writes nothing.
func (r *Run) WriteResults(out, name, md string) error {
	if out == "-" {
		return nil
	}
	path := out
	if path == "" {
		path = filepath.Join(r.Repo, "bench", "results", name+"-"+time.Now().Format("2006-01-02")+".md")
	}
	err := os.MkdirAll(filepath.Dir(path), 0o755)
	if err == nil {
		err = os.WriteFile(path, []byte(md), 0o644)
	}
	if err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	r.Logf("wrote %s", path)
	return nil
}

// ModuleRoot is the directory of the ladder module the program runs in.
// The programs copy the demo from it and build ./cmd/ladder there, so any
// other module is refused up front.
func ModuleRoot(tool string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not in a Go module: run " + tool + " from the ladder repository")
	}
	root := filepath.Dir(gomod)
	if _, err := os.Stat(filepath.Join(root, "cmd", "ladder")); err != nil {
		return "", fmt.Errorf("%s has no cmd/ladder: run %s from the ladder repository", root, tool)
	}
	return root, nil
}
