package main

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

const labelProject = "com.docker.compose.project"

// docker runs the docker CLI (at most 2 minutes) and returns its stdout.
func docker(ctx context.Context, args ...string) (string, error) {
	return run(ctx, "docker", args...)
}

// dockerCompose runs docker-compose on the rendered file as project.
func dockerCompose(ctx context.Context, project, file string, args ...string) (string, error) {
	return run(ctx, "docker-compose", append([]string{"-p", project, "-f", file}, args...)...)
}

func run(ctx context.Context, name string, args ...string) (string, error) {
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

// composeDown removes a docker-compose project, its networks and volumes.
func composeDown(ctx context.Context, project, file string) error {
	if _, err := os.Stat(file); err != nil {
		return nil // never written: the sweep finds anything left
	}
	if _, err := dockerCompose(ctx, project, file, "down", "-v"); err != nil {
		return err
	}
	return waitNoContainers(ctx, project, 15*time.Second)
}

// removeImages untags every image of a stack: <stack>-<service>:TAG.
// Only the tags go; an image someone else also tagged stays theirs.
func removeImages(ctx context.Context, stack string) error {
	out, err := docker(ctx, "images", "--filter", "reference="+stack+"-*", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		return err
	}
	refs := strings.Fields(out)
	if len(refs) == 0 {
		return nil
	}
	_, err = docker(ctx, append([]string{"rmi"}, refs...)...)
	return err
}

// containers lists the IDs of a Compose project's containers, running
// or not.
func containers(ctx context.Context, project string, extra ...string) ([]string, error) {
	args := []string{"ps", "-aq", "--no-trunc", "--filter", "label=" + labelProject + "=" + project}
	for _, f := range extra {
		args = append(args, "--filter", f)
	}
	out, err := docker(ctx, args...)
	return strings.Fields(out), err
}

func waitNoContainers(ctx context.Context, project string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ids, err := containers(ctx, project)
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

// ctrState is what composebench reads of a container from docker inspect.
type ctrState struct {
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

// identity is what must not change when nothing is redeployed.
func (c ctrState) identity() string {
	return fmt.Sprintf("%s restarts=%d started=%s %s", c.ID[:12], c.RestartCount, c.State.StartedAt, c.State.Status)
}

func inspect(ctx context.Context, ids []string) ([]ctrState, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	out, err := docker(ctx, append([]string{"inspect"}, ids...)...)
	if err != nil {
		return nil, err
	}
	var cs []ctrState
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		return nil, fmt.Errorf("docker inspect: %w", err)
	}
	return cs, nil
}

// projectState maps each container of project to its identity.
func projectState(ctx context.Context, project string) (map[string]string, error) {
	ids, err := containers(ctx, project)
	if err != nil {
		return nil, err
	}
	cs, err := inspect(ctx, ids)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, c := range cs {
		m[c.Config.Labels["com.docker.compose.service"]+" "+c.ID[:12]] = c.identity()
	}
	return m, nil
}

// waitDockerHealthy polls docker inspect of the project's containers
// until there are want of them and every one with a healthcheck reports
// healthy. It returns how many had a healthcheck.
func waitDockerHealthy(ctx context.Context, project string, want int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	ids, err := containers(ctx, project)
	if err != nil {
		return 0, err
	}
	last := "no containers"
	for {
		if len(ids) < want {
			if ids, err = containers(ctx, project); err != nil {
				return 0, err
			}
		}
		if len(ids) >= want {
			cs, err := inspect(ctx, ids)
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

// sweep finds every container, network, volume and image whose name
// starts with prefix, removes it, and returns what it found.
func sweep(ctx context.Context, prefix string) ([]string, error) {
	var found []string
	var errs []error
	list := func(kind string, rm []string, args ...string) {
		out, err := docker(ctx, args...)
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
			if _, err := docker(ctx, append(rm, id)...); err != nil {
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

// dirBytes is the apparent size (sum of file sizes) and the allocated
// size (du) of everything under dir.
func dirBytes(dir string) (apparent, allocated int64, err error) {
	err = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			apparent += fi.Size()
			allocated += allocatedBytes(fi)
		}
		return nil
	})
	return apparent, allocated, err
}

func allocatedBytes(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
