// Package engine runs the docker CLI and docker-compose for the benchmarks:
// Compose projects, their containers and health, and a sweep of what a run
// left behind.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

const LabelProject = "com.docker.compose.project"

// Docker runs the docker CLI (at most 2 minutes) and returns its stdout.
func Docker(ctx context.Context, args ...string) (string, error) {
	return runCmd(ctx, "docker", args...)
}

// Compose runs docker-compose on the rendered file as project.
func Compose(ctx context.Context, project, file string, args ...string) (string, error) {
	return runCmd(ctx, "docker-compose", append([]string{"-p", project, "-f", file}, args...)...)
}

func runCmd(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = os.Environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, harness.Tail(errb.Bytes()))
	}
	return out.String(), nil
}

// ComposeDown removes a docker-compose project, its networks and volumes.
func ComposeDown(ctx context.Context, project, file string) error {
	if _, err := os.Stat(file); err != nil {
		return nil // never written: the sweep finds anything left
	}
	if _, err := Compose(ctx, project, file, "down", "-v"); err != nil {
		return err
	}
	return WaitNoContainers(ctx, project, 15*time.Second)
}

// RemoveImages untags every image of a stack: <stack>-<service>:TAG.
// Only the tags go; an image someone else also tagged stays theirs.
func RemoveImages(ctx context.Context, stack string) error {
	out, err := Docker(ctx, "images", "--filter", "reference="+stack+"-*", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		return err
	}
	refs := strings.Fields(out)
	if len(refs) == 0 {
		return nil
	}
	_, err = Docker(ctx, append([]string{"rmi"}, refs...)...)
	return err
}

// Containers lists the IDs of a Compose project's containers, running
// or not.
func Containers(ctx context.Context, project string, extra ...string) ([]string, error) {
	args := []string{"ps", "-aq", "--no-trunc", "--filter", "label=" + LabelProject + "=" + project}
	for _, f := range extra {
		args = append(args, "--filter", f)
	}
	out, err := Docker(ctx, args...)
	return strings.Fields(out), err
}

func WaitNoContainers(ctx context.Context, project string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ids, err := Containers(ctx, project)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Compose project %s still has %d containers %s after down", project, len(ids), d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// CtrState is what composebench reads of a container from docker inspect.
type CtrState struct {
	ID           string `json:"Id"`
	RestartCount int    `json:"RestartCount"`
	Config       struct {
		Labels map[string]string `json:"Labels"`
	} `json:"Config"`
	State struct {
		Status    string `json:"Status"`
		StartedAt string `json:"StartedAt"`
		Health    *struct {
			Status string `json:"Status"`
		} `json:"Health"`
	} `json:"State"`
}

// Identity is what must not change when nothing is redeployed.
func (c CtrState) Identity() string {
	return fmt.Sprintf("%s restarts=%d started=%s %s", c.ID[:12], c.RestartCount, c.State.StartedAt, c.State.Status)
}

func Inspect(ctx context.Context, ids []string) ([]CtrState, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	out, err := Docker(ctx, append([]string{"inspect"}, ids...)...)
	if err != nil {
		return nil, err
	}
	var cs []CtrState
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		return nil, fmt.Errorf("docker inspect: %w", err)
	}
	return cs, nil
}

// ProjectState maps each container of project to its identity.
func ProjectState(ctx context.Context, project string) (map[string]string, error) {
	ids, err := Containers(ctx, project)
	if err != nil {
		return nil, err
	}
	cs, err := Inspect(ctx, ids)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, c := range cs {
		m[c.Config.Labels["com.docker.compose.service"]+" "+c.ID[:12]] = c.Identity()
	}
	return m, nil
}

// WaitHealthy polls docker inspect of the project's containers
// until there are want of them and every one with a healthcheck reports
// healthy. It returns how many had a healthcheck.
func WaitHealthy(ctx context.Context, project string, want int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	ids, err := Containers(ctx, project)
	if err != nil {
		return 0, err
	}
	last := "no containers"
	for {
		if len(ids) < want {
			if ids, err = Containers(ctx, project); err != nil {
				return 0, err
			}
		}
		if len(ids) >= want {
			cs, err := Inspect(ctx, ids)
			if err != nil {
				return 0, err
			}
			checked, healthy := 0, 0
			var states []string
			for _, c := range cs {
				if c.State.Health == nil {
					continue
				}
				checked++
				if c.State.Health.Status == "healthy" {
					healthy++
				}
				states = append(states, c.Config.Labels["com.docker.compose.service"]+"="+c.State.Status+"/"+c.State.Health.Status)
			}
			if checked > 0 && healthy == checked {
				return checked, nil
			}
			last = strings.Join(states, " ")
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("Compose project %s not healthy within %s: %s", project, timeout, last)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Sweep finds every container, network, volume and image whose name
// starts with prefix, removes it, and returns what it found.
func Sweep(ctx context.Context, prefix string) ([]string, error) {
	var found []string
	var errs []error
	list := func(kind string, rm []string, args ...string) {
		out, err := Docker(ctx, args...)
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			id, name, _ := strings.Cut(line, " ")
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			found = append(found, kind+" "+name)
			if _, err := Docker(ctx, append(rm, id)...); err != nil {
				errs = append(errs, err)
			}
		}
	}
	list("container", []string{"rm", "-f", "-v"}, "ps", "-a", "--filter", "name="+prefix, "--format", "{{.ID}} {{.Names}}")
	list("network", []string{"network", "rm"}, "network", "ls", "--filter", "name="+prefix, "--format", "{{.ID}} {{.Name}}")
	list("volume", []string{"volume", "rm"}, "volume", "ls", "--filter", "name="+prefix, "--format", "{{.Name}} {{.Name}}")
	list("image", []string{"rmi"}, "images", "--filter", "reference="+prefix+"*", "--format", "{{.Repository}}:{{.Tag}} {{.Repository}}")
	return found, errors.Join(errs...)
}

// DirBytes is the apparent size (sum of file sizes) and the allocated
// size (du) of everything under dir.
func DirBytes(dir string) (apparent, allocated int64, err error) {
	err = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			apparent += fi.Size()
			allocated += AllocatedBytes(fi)
		}
		return nil
	})
	return apparent, allocated, err
}

func AllocatedBytes(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
