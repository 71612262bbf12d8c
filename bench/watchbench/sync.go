package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// syncRounds runs the demo on the compose target with a develop.watch
// sync rule on notifications and times each write until the engine
// reports the file in the container.
func (b *bench) syncRounds(ctx context.Context) error {
	d, env, err := b.prepare("compose")
	if err != nil {
		return err
	}
	project := strings.TrimPrefix(env[1], "COMPOSE_PROJECT_NAME=")
	env = append(env, "LADDER_TARGET=compose")
	compose := filepath.Join(d.Dir, "compose.yaml")
	src, err := os.ReadFile(compose)
	if err != nil {
		return err
	}
	rule := "build: ./services/notifications\n    develop:\n      watch:\n        - path: ./static\n          action: sync\n          target: /static\n"
	edited := strings.Replace(string(src), "build: ./services/notifications\n", rule, 1)
	if edited == string(src) {
		return fmt.Errorf("compose.yaml: no notifications build line to add develop.watch to")
	}
	if err := os.WriteFile(compose, []byte(edited), 0o644); err != nil {
		return err
	}
	static := filepath.Join(d.Dir, "static")
	if err := os.MkdirAll(static, 0o755); err != nil {
		return err
	}
	b.r.Track(d.Dir, env)
	w, err := startWatch(ctx, b.r, d.Dir, env)
	if err != nil {
		return err
	}
	defer w.stop()
	docker, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer docker.Close()
	cs, err := docker.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.service=notifications"))})
	if err != nil {
		return err
	}
	id := ""
	for _, c := range cs {
		if strings.HasPrefix(c.Labels["com.docker.compose.project"], project) {
			id = c.ID
		}
	}
	if id == "" {
		return fmt.Errorf("no notifications container of project %s", project)
	}
	file := filepath.Join(static, "round.txt")
	for round := 1; round <= b.n+1; round++ {
		body := strings.Repeat("x", round*10)
		t0 := time.Now()
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			return err
		}
		for {
			st, err := docker.ContainerStatPath(ctx, id, "/static/round.txt")
			if err == nil && st.Size == int64(len(body)) {
				break
			}
			if time.Since(t0) > 30*time.Second {
				return fmt.Errorf("sync round %d: /static/round.txt not in the container after 30s\n%s", round, w.output())
			}
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(t0)
		b.r.Logf("sync round %d: %s", round, took.Round(time.Millisecond))
		if round > 1 {
			b.s.Add(keySync, took)
		}
		time.Sleep(200 * time.Millisecond)
	}
	w.stop()
	return nil
}
