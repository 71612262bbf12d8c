package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/api"
)

// ExitNotRunning is ladder's exit code for "nothing running": a `ladder
// down` that finds nothing to stop is not a cleanup failure.
const ExitNotRunning = 4

// LadderLimit bounds one ladder command, so that a hung ladder fails the
// run instead of stalling it.
const LadderLimit = 3 * time.Minute

// Result is what a command did.
type Result struct {
	Stdout, Stderr []byte
	Code           int           // exit code
	Took           time.Duration // wall time from start to exit
}

// Exec runs name in dir ("" for the current directory) with env added to
// this process's environment, bounded by limit. The error is for a
// command that could not run or was cancelled; a command that ran and
// failed has its exit code in the result, for the caller to judge.
func Exec(ctx context.Context, dir string, env []string, limit time.Duration, name string, args ...string) (Result, error) {
	r, err := run(ctx, dir, env, limit, name, args...)
	if err != nil {
		return r, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return r, nil
}

// Ladder runs `r.Bin -C dir args` in dir with env added, at most
// LadderLimit. Errors are as for Exec.
func (r *Run) Ladder(ctx context.Context, dir string, env []string, args ...string) (Result, error) {
	res, err := run(ctx, dir, env, LadderLimit, r.Bin, append([]string{"-C", dir}, args...)...)
	if err != nil {
		return res, fmt.Errorf("ladder %s: %w", strings.Join(args, " "), err)
	}
	return res, nil
}

func run(ctx context.Context, dir string, env []string, limit time.Duration, name string, args ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// Interrupted like a user would: ladder then takes down what it
	// started, which a SIGKILL would leave running.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), Took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok && ctx.Err() == nil {
		r.Code, err = ee.ExitCode(), nil
	}
	return r, err
}

// Tail is the last 15 lines of a command's output, for error messages:
// enough to see why ladder failed without pasting a whole log.
func Tail(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// SameSet reports whether got holds exactly want, in any order: ladder
// does not promise an order for the services it lists.
func SameSet(got []string, want ...string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// Up is the part of `ladder up -o json` the programs check.
type Up struct {
	Snapshot struct {
		ID string `json:"id"`
	} `json:"snapshot"`
	Build struct {
		Built     []string      `json:"built"`
		Cached    []string      `json:"cached"`
		BuildTime time.Duration `json:"buildTime"`
	} `json:"build"`
	Deploy api.DeployResult `json:"deploy"`
	Status struct {
		Target string `json:"target"`
		Agent  struct {
			URL string `json:"url"`
		} `json:"agent"`
		Sites []struct {
			Runtime  map[string]string `json:"runtime"`
			Services []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				Instances []struct {
					ID string `json:"id"`
				} `json:"instances"`
			} `json:"services"`
		} `json:"sites"`
	} `json:"status"`
}

// UpArgs are the arguments of a measured `ladder up`: JSON to check, a
// dashboard on a port the kernel picks (no fixed port anywhere), and -d
// when detach.
func UpArgs(detach bool) []string {
	args := []string{"up", "-o", "json", "--dashboard", "127.0.0.1:0"}
	if detach {
		args = append(args, "-d")
	}
	return args
}

// ParseUp reads what `ladder args` (an up) did, and fails unless it
// exited 0, deployed the snapshot it made, reports a site, and ran on
// target: a figure is worth nothing if ladder did other work than the
// one measured.
func ParseUp(r Result, args []string, target string) (*Up, error) {
	what := "ladder " + strings.Join(args, " ")
	if r.Code != 0 {
		return nil, fmt.Errorf("%s: exit %d\n%s%s", what, r.Code, Tail(r.Stdout), Tail(r.Stderr))
	}
	var up Up
	if err := json.Unmarshal(r.Stdout, &up); err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", what, err, Tail(r.Stdout))
	}
	switch {
	case up.Snapshot.ID == "" || up.Deploy.Snapshot != up.Snapshot.ID || len(up.Status.Sites) == 0:
		return nil, fmt.Errorf("%s: no snapshot, a deploy of another snapshot or no site:\n%s", what, Tail(r.Stdout))
	case up.Status.Target != target:
		return nil, fmt.Errorf("%s: the stack runs on the %q target, not %s", what, up.Status.Target, target)
	}
	return &up, nil
}

// Instances maps each service of the first site to its sorted instance
// IDs, and fails unless every service there is healthy with an instance
// and every service of want is there. Comparing the maps of two ups tells
// which services were replaced.
func (up *Up) Instances(want ...string) (map[string][]string, error) {
	ids := map[string][]string{}
	for _, s := range up.Status.Sites[0].Services {
		if s.Health != "healthy" || len(s.Instances) == 0 {
			return nil, fmt.Errorf("service %s is %q with %d instances", s.Name, s.Health, len(s.Instances))
		}
		for _, in := range s.Instances {
			ids[s.Name] = append(ids[s.Name], in.ID)
		}
		slices.Sort(ids[s.Name])
	}
	for _, name := range want {
		if len(ids[name]) == 0 {
			return nil, fmt.Errorf("service %s missing from the status", name)
		}
	}
	return ids, nil
}

// Output collects what a child process writes on both its streams, for
// reading while it runs.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// String is what was written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
