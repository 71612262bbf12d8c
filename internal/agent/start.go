package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/internal/spec"
)

// StartOptions say which agent to start.
type StartOptions struct {
	// Dir is the project directory, StateDir its state directory.
	Dir, StateDir string
	Env           string
	Load          spec.LoadOptions
	// Args are more flags for `ladder agent` (--dashboard, --target).
	Args []string
}

// Start runs `ladder agent` for an environment detached (in a session of
// its own, so it outlives the command and its terminal) and waits until it
// answers. When the agent exits at once, the error shows the end of its log.
func Start(ctx context.Context, o StartOptions) (*Client, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"agent", "-C", o.Dir, "--env", o.Env}
	if o.Load.LadderFile != "" {
		args = append(args, "--file", o.Load.LadderFile)
	}
	if o.Load.StackFile != "" {
		args = append(args, "--stack", o.Load.StackFile)
	}
	for _, prof := range o.Load.Profiles {
		args = append(args, "--profile", prof)
	}
	args = append(args, o.Args...)
	logPath := filepath.Join(o.StateDir, "logs", "agent-"+o.Env+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = o.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the agent for %s: %w", o.Env, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(15 * time.Second)
	for {
		if c, ok := Find(ctx, o.StateDir, o.Env); ok && c.Info.PID == cmd.Process.Pid {
			return c, nil
		}
		select {
		case err := <-exited:
			// Another agent for the environment won its lease (two
			// commands started one at once): that one runs it.
			if c, ok := Find(ctx, o.StateDir, o.Env); ok {
				return c, nil
			}
			return nil, fmt.Errorf("the agent for %s exited at start (%v): %s(its log is %s)", o.Env, err, tailOf(logPath, 5), logPath)
		case <-deadline:
			return nil, fmt.Errorf("the agent for %s did not answer within 15s; its log is %s", o.Env, logPath)
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// tailOf returns the last n lines of a file, each followed by a newline.
func tailOf(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// Endpoints returns one SERVICE_URL variable per published service of the
// environment's first site, from its running agent.
func Endpoints(ctx context.Context, stateDir, env string) (map[string]string, error) {
	c, ok := Find(ctx, stateDir, env)
	if !ok {
		return nil, fmt.Errorf("%s is not running", env)
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if len(st.Sites) == 0 {
		return out, nil
	}
	for _, svc := range st.Sites[0].Services {
		if len(svc.Endpoints) > 0 {
			out[envVarName(svc.Name)+"_URL"] = svc.Endpoints[0]
		}
	}
	return out, nil
}

func envVarName(service string) string {
	b := []byte(service)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}
