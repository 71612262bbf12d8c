package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
	"github.com/ladderhq/ladder/internal/api"
)

// services are the demo's services; web is the one S1 and S2 differ in.
var services = []string{"migrate", "notifications", "trades", "users", "web"}

// deployed is what a deploy of the demo onto an empty rung starts: the
// services ladder builds and the database image.
var deployed = append([]string{"db"}, services...)

// ladderFile is e2e/ladder_test.go's four-rung ladder without its gate
// tests and soak: dev's gate is then only "previous-rung", and with no
// soak on staging a dev release is known-good (a rollback target) as soon
// as it passed health. Every rung gets an ephemeral dashboard port.
const ladderFile = `stack: compose.yaml
environments:
  local:
    target: process
    data: throwaway
    dashboard: 127.0.0.1:0
    telemetry: {interval: 1s}
  dev:
    from: local
    target: process
    dashboard: 127.0.0.1:0
    telemetry: {interval: 1s}
  staging:
    from: dev
    target: process
    dashboard: 127.0.0.1:0
  prod:
    from: staging
    target: process
    dashboard: 127.0.0.1:0
    protected: true
    data: real
    gates: {signed: true}
`

// project is a directory ladder runs in, and the rungs cleanup takes down.
type project struct {
	root string // the copy's module root
	dir  string // the stack directory (ladder -C dir)
	envs []string
}

// register has cleanup run `ladder down --env E` in p for every rung E.
func (b *bench) register(p *project) {
	var downs [][]string
	for _, env := range p.envs {
		downs = append(downs, []string{"down", "--env", env})
	}
	b.Track(p.dir, processTarget, downs...)
}

// newDemo copies the demo into b.Tmp/name, makes web's published port
// ephemeral and writes ladderFile.
func (b *bench) newDemo(name string) (*project, error) {
	d, err := harness.CopyDemo(b.Repo, filepath.Join(b.Tmp, name))
	if err != nil {
		return nil, err
	}
	p := &project{root: d.Root, dir: d.Dir, envs: []string{"local", "dev", "staging", "prod"}}
	if err := edit(filepath.Join(p.dir, "compose.yaml"), `"${WEB_PORT:-3000}:8080"`, `"8080"`); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(p.dir, "ladder.yaml"), []byte(ladderFile), 0o644); err != nil {
		return nil, err
	}
	b.register(p)
	return p, nil
}

// edit replaces the first old in path by new, and fails if there is none.
func edit(path, old, new string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(data), old) {
		return fmt.Errorf("%s no longer contains %q: update ladderbench", path, old)
	}
	return os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644)
}

type snapJSON struct {
	ID string `json:"id"`
}

// decode parses a command's JSON output into v.
func decode(r harness.Result, what string, v any) error {
	if err := json.Unmarshal(r.Stdout, v); err != nil {
		return fmt.Errorf("%s -o json: %v\n%s", what, err, harness.Tail(r.Stdout))
	}
	return nil
}

// up runs `ladder up -d -o json` and returns the snapshot and what it built.
func (b *bench) up(ctx context.Context, p *project) (id string, built []string, changed []string, err error) {
	r, err := b.ladderOK(ctx, p.dir, "up", "-d", "-o", "json", "--dashboard", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	var up harness.Up
	if err := decode(r, "ladder up", &up); err != nil {
		return "", nil, nil, err
	}
	if up.Status.Target != "process" || up.Snapshot.ID == "" || up.Deploy.Snapshot != up.Snapshot.ID {
		return "", nil, nil, fmt.Errorf("ladder up: target %q, snapshot %q, deployed %q; want the process target running its snapshot", up.Status.Target, up.Snapshot.ID, up.Deploy.Snapshot)
	}
	return up.Snapshot.ID, up.Build.Built, up.Deploy.Changed, nil
}

// checkDeploy fails unless d is a successful release of snap that started
// or stopped exactly want.
func checkDeploy(what string, d *api.DeployResult, snap string, want ...string) error {
	switch {
	case d == nil:
		return fmt.Errorf("%s: no deploy in the JSON", what)
	case d.Error != "" || d.Snapshot != snap || d.Release == 0:
		return fmt.Errorf("%s: deploy of %s, release %d, error %q; want a release of %s", what, short(d.Snapshot), d.Release, d.Error, short(snap))
	case !harness.SameSet(d.Changed, want...):
		return fmt.Errorf("%s: changed %v, want %v", what, d.Changed, want)
	case d.Duration <= 0:
		return fmt.Errorf("%s: deploy.duration %s", what, d.Duration)
	}
	return nil
}

// promote runs `ladder promote snap --to env -o json`; every gate must
// pass and the deploy must change exactly want.
func (b *bench) promote(ctx context.Context, p *project, snap, env string, want ...string) (*api.DeployResult, time.Duration, error) {
	what := "ladder promote " + short(snap) + " --to " + env
	r, err := b.ladderOK(ctx, p.dir, "promote", snap, "--to", env, "-o", "json")
	if err != nil {
		return nil, 0, err
	}
	var pr struct {
		Promotion struct {
			Phase string `json:"phase"`
		} `json:"promotion"`
		Gates []struct {
			Gate   string `json:"gate"`
			Passed bool   `json:"passed"`
		} `json:"gates"`
		Deploy   *api.DeployResult `json:"deploy"`
		Snapshot snapJSON          `json:"snapshot"`
	}
	if err := decode(r, what, &pr); err != nil {
		return nil, 0, err
	}
	if pr.Promotion.Phase != "succeeded" || pr.Snapshot.ID != snap || len(pr.Gates) == 0 {
		return nil, 0, fmt.Errorf("%s: phase %q, snapshot %s, %d gates", what, pr.Promotion.Phase, short(pr.Snapshot.ID), len(pr.Gates))
	}
	for _, g := range pr.Gates {
		if !g.Passed {
			return nil, 0, fmt.Errorf("%s: gate %s did not pass", what, g.Gate)
		}
	}
	return pr.Deploy, r.Took, checkDeploy(what, pr.Deploy, snap, want...)
}

// rollback runs `ladder rollback env [--to snap] -o json`; it must go
// from `from` to snap and change exactly want.
func (b *bench) rollback(ctx context.Context, p *project, env, to, from, snap string, want ...string) (*api.DeployResult, time.Duration, error) {
	args := []string{"rollback", env, "-o", "json"}
	if to != "" {
		args = append(args, "--to", to)
	}
	what := "ladder " + strings.Join(args, " ")
	r, err := b.ladderOK(ctx, p.dir, args...)
	if err != nil {
		return nil, 0, err
	}
	var rb struct {
		From   string            `json:"from"`
		To     snapJSON          `json:"to"`
		Deploy *api.DeployResult `json:"deploy"`
	}
	if err := decode(r, what, &rb); err != nil {
		return nil, 0, err
	}
	if rb.To.ID != snap || (from != "" && rb.From != from) {
		return nil, 0, fmt.Errorf("%s: went from %s to %s, want %s to %s", what, short(rb.From), short(rb.To.ID), short(from), short(snap))
	}
	return rb.Deploy, r.Took, checkDeploy(what, rb.Deploy, snap, want...)
}

// history runs `ladder history env -o json`, whose newest release must be
// a successful one of snap.
func (b *bench) history(ctx context.Context, p *project, env, snap string) (time.Duration, error) {
	r, err := b.ladderOK(ctx, p.dir, "history", env, "-o", "json")
	if err != nil {
		return 0, err
	}
	var rels []struct {
		Snapshot string `json:"snapshot"`
		Phase    string `json:"phase"`
	}
	if err := decode(r, "ladder history "+env, &rels); err != nil {
		return 0, err
	}
	if len(rels) == 0 || rels[0].Snapshot != snap || rels[0].Phase != "succeeded" {
		return 0, fmt.Errorf("ladder history %s: newest release %+v, want a succeeded release of %s", env, rels[:min(1, len(rels))], short(snap))
	}
	return r.Took, nil
}

// buildState is what a build would change: the OCI layout's index.json
// and the number of artifact.built events the local agent reports.
func (b *bench) buildState(ctx context.Context, p *project) (index []byte, built int, err error) {
	if index, err = os.ReadFile(filepath.Join(p.dir, ".ladder", "artifacts", "index.json")); err != nil {
		return nil, 0, err
	}
	var info struct {
		URL string `json:"url"`
	}
	data, err := os.ReadFile(filepath.Join(p.dir, ".ladder", "agent-local.json"))
	if err == nil {
		err = json.Unmarshal(data, &info)
	}
	if err != nil || info.URL == "" {
		return nil, 0, fmt.Errorf("finding the local agent: %v", err)
	}
	url := info.URL + "/api/v1/events?kind=artifact.built&limit=1000"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s", resp.Status)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", url, err)
	}
	r := harness.Result{Stdout: body}
	var events []struct {
		Kind string `json:"kind"`
	}
	if err := decode(r, "GET /api/v1/events", &events); err != nil {
		return nil, 0, err
	}
	for _, e := range events {
		if e.Kind != "artifact.built" {
			return nil, 0, fmt.Errorf("GET /api/v1/events?kind=artifact.built returned a %s event", e.Kind)
		}
	}
	return index, len(events), nil
}

func short(id string) string { return id[:min(12, len(id))] }
