package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/target"
)

// DeployOptions watch a deploy as it happens.
type DeployOptions struct {
	// HealthTimeout overrides the environment's health.timeout when set.
	HealthTimeout time.Duration
	Progress      func(target.Progress)
	Plan          func(*plan.Plan)
}

// Deploy implements server.Source. A release that was attempted and
// failed is an answer, not an error: its result carries the error, and the
// previous release keeps serving.
func (a *Agent) Deploy(ctx context.Context, req api.DeployRequest) (*api.DeployResult, error) {
	var opts DeployOptions
	if req.HealthTimeout != "" {
		d, err := time.ParseDuration(req.HealthTimeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("healthTimeout %q is not a positive duration", req.HealthTimeout)
		}
		opts.HealthTimeout = d
	}
	res, err := a.DeployWith(ctx, req.Snapshot, opts)
	if err != nil && res != nil {
		res.Error = err.Error()
		return res, nil
	}
	return res, err
}

// StaleStackError says a snapshot was made from another stack definition
// than the one on disk, so it cannot be rendered from the files as they are.
type StaleStackError struct{ Snapshot, Want, Have string }

func (e *StaleStackError) Error() string {
	return fmt.Sprintf("snapshot %s was made from another stack definition (%s) than the files on disk (%s); run `ladder up` to make a snapshot of them",
		snapshot.Short(e.Snapshot), snapshot.Short(e.Want), snapshot.Short(e.Have))
}

// DeployWith deploys snapshot id to every site of the environment, one
// site after the other, stopping at the first that fails. The project is
// reloaded first and replaces the agent's only once it loaded cleanly.
func (a *Agent) DeployWith(ctx context.Context, id string, opts DeployOptions) (*api.DeployResult, error) {
	a.deployMu.Lock()
	defer a.deployMu.Unlock()

	p, err := spec.Load(ctx, a.opts.Dir, a.opts.Load)
	if err != nil {
		return nil, err
	}
	env, ok := p.Ladder.Environment(a.opts.Env)
	if !ok {
		return nil, fmt.Errorf("environment %q is no longer defined", a.opts.Env)
	}
	snap, err := a.opts.Store.GetSnapshot(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	if err := snap.Verify(); err != nil {
		return nil, err
	}
	if snap.StackHash != p.Stack.Hash {
		return nil, &StaleStackError{Snapshot: snap.ID, Want: snap.StackHash, Have: p.Stack.Hash}
	}
	a.mu.Lock()
	a.project, a.env = p, env
	a.mu.Unlock()

	images := render.FromImages(a.opts.Builder.Image)
	var last *api.DeployResult
	for _, site := range env.Sites {
		d, err := render.Render(p, env.Name, site.Name, snap, images)
		if err != nil {
			return nil, err
		}
		timeout := env.Health.Timeout
		if opts.HealthTimeout > 0 {
			timeout = opts.HealthTimeout
		}
		res, err := a.deployer.Deploy(ctx, a.opts.Target, d, deploy.Options{
			HealthTimeout: timeout, Progress: opts.Progress, Plan: opts.Plan,
		})
		if err != nil {
			if res == nil {
				return nil, err
			}
			return res, err
		}
		a.mu.Lock()
		a.desired[site.Name] = d
		a.mu.Unlock()
		a.checkDriftLocked(ctx, d.SiteRef, "a release")
		last = res
	}
	if last == nil {
		return nil, errors.New("the environment has no sites")
	}
	return last, nil
}
