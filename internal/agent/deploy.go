package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/target"
)

// DeployOptions watch a deploy as it happens.
type DeployOptions struct {
	// HealthTimeout overrides the environment's health.timeout when set.
	HealthTimeout time.Duration
	// By is who asked for the deploy.
	By string
	// Grant is the token of a grant from a promotion or rollback (see
	// promote.Admitter).
	Grant    string
	Progress func(target.Progress)
	Plan     func(*plan.Plan)
}

// Deploy implements server.Source. A release that was attempted and
// failed is an answer, not an error: its result carries the error, and the
// previous release keeps serving.
func (a *Agent) Deploy(ctx context.Context, req api.DeployRequest) (*api.DeployResult, error) {
	opts := DeployOptions{By: req.By, Grant: req.Grant}
	if req.HealthTimeout != "" {
		d, err := time.ParseDuration(req.HealthTimeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("healthTimeout %q is not a positive duration", req.HealthTimeout)
		}
		opts.HealthTimeout = d
	}
	res, err := a.deployDetached(ctx, req.Snapshot, opts)
	if err != nil && res != nil {
		res.Error = err.Error()
		return res, nil
	}
	return res, err
}

// ErrShuttingDown refuses a deploy asked for while the agent stops.
var ErrShuttingDown = errors.New("the agent is shutting down")

// deployDetached runs DeployWith on the agent's own context rather than
// ctx, and waits for it while ctx lasts. A deploy, once accepted, runs to
// completion or to its own timeout: a client that hangs up (a dropped
// connection, Ctrl-C of the CLI watching it) stops watching, not the
// deploy, which would otherwise be cut half-way and recorded "failed:
// context canceled". Only the agent's shutdown cancels it, and waits for
// it (see endDeploys).
func (a *Agent) deployDetached(ctx context.Context, id string, opts DeployOptions) (*api.DeployResult, error) {
	a.lifeMu.Lock()
	if a.life.Err() != nil {
		a.lifeMu.Unlock()
		return nil, ErrShuttingDown
	}
	a.deploys.Add(1)
	a.lifeMu.Unlock()

	type answer struct {
		res *api.DeployResult
		err error
	}
	done := make(chan answer, 1)
	go func() {
		defer a.deploys.Done()
		res, err := a.DeployWith(a.life, id, opts)
		done <- answer{res, err}
	}()
	select {
	case ans := <-done:
		return ans.res, ans.err
	case <-ctx.Done():
		a.opts.Logger.Info("the client stopped waiting; the deploy goes on", "snapshot", id, "by", opts.By)
		return nil, fmt.Errorf("stopped waiting for the deploy of %s, which goes on in the agent (see ladder status and ladder history): %w", snapshot.Short(id), ctx.Err())
	}
}

// endDeploys cancels the deploys under way and waits for them: they undo
// what they started, leaving the previous release running.
func (a *Agent) endDeploys() {
	a.lifeMu.Lock()
	a.endLife()
	a.lifeMu.Unlock()
	a.deploys.Wait()
}

// DeployWith deploys snapshot id to every site of the environment, one
// site after the other, stopping at the first that fails. The project is
// reloaded first and replaces the agent's only once it loaded cleanly.
// The rung's admission (promote.Admitter) decides first whether the
// snapshot may come here at all: a *promote.AdmissionError when not.
func (a *Agent) DeployWith(ctx context.Context, id string, opts DeployOptions) (*api.DeployResult, error) {
	a.deployMu.Lock()
	defer a.deployMu.Unlock()

	load := spec.Load
	if a.opts.Projects != nil {
		load = a.opts.Projects.Load
	}
	p, err := load(ctx, a.opts.Dir, a.opts.Load)
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
	// Every way onto the rung comes through here: the same admission
	// for the API, promote, rollback, up and watch.
	admit := &promote.Admitter{Store: a.opts.Store, Verify: a.opts.Verify}
	if err := admit.Admit(ctx, env, snap, opts.Grant, opts.By); err != nil {
		return nil, err
	}
	rp, err := deploy.ProjectForWith(ctx, load, p, a.opts.StateDir, a.opts.Load, snap)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.project, a.env = p, env
	a.mu.Unlock()

	images := render.FromImages(a.opts.Builder.Image)
	var last *api.DeployResult
	for _, site := range env.Sites {
		d, err := render.RenderWith(rp, env.Name, site.Name, snap, images, render.Options{
			Secrets: a.secretsOf(env.Name), ReadFile: os.ReadFile, LookupEnv: os.LookupEnv,
		})
		if err != nil {
			return nil, err
		}
		a.redactFiles(d)
		timeout := env.Health.Timeout
		if opts.HealthTimeout > 0 {
			timeout = opts.HealthTimeout
		}
		a.mu.Lock()
		prev := a.desired[site.Name]
		a.mu.Unlock()
		res, err := a.deployer.Deploy(ctx, a.opts.Target, d, deploy.Options{
			HealthTimeout: timeout, Progress: opts.Progress, Plan: opts.Plan, By: opts.By, Previous: prev,
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
	a.refreshKnownGood(ctx)
	return last, nil
}

// refreshKnownGood judges the environment's current releases once their
// soak is over, on health and telemetry, and marks the good ones
// known-good (see promote.RefreshKnownGood and promote.JudgeKnownGood).
func (a *Agent) refreshKnownGood(ctx context.Context) {
	a.mu.Lock()
	p := a.project
	a.mu.Unlock()
	pr := &promote.Promoter{Project: p, Store: a.opts.Store}
	if err := pr.RefreshKnownGood(ctx, a.opts.Env); err != nil {
		a.opts.Logger.Warn("marking known-good releases", "err", err)
	}
}

// secretsOf returns the render option that reads env's secrets, loading
// (and decrypting) them once, only if a service asks for one, and teaching
// the redactor their values before any can be printed.
func (a *Agent) secretsOf(env string) func(name string) (string, error) {
	var values map[string]string
	return func(name string) (string, error) {
		if values == nil {
			if a.opts.Secrets == nil {
				return "", fmt.Errorf("this agent cannot read secrets")
			}
			v, err := a.opts.Secrets(env)
			if err != nil {
				return "", err
			}
			values = v
			if a.opts.Redactor != nil {
				for _, val := range values {
					a.opts.Redactor.Add(val)
				}
			}
		}
		v, ok := values[name]
		if !ok {
			return "", fmt.Errorf("%w: ladder secret set %s %s", render.ErrSecretNotSet, env, name)
		}
		return v, nil
	}
}

// redactFiles hides the content of every secret file of d from logs and
// output, as the environment's secrets are.
func (a *Agent) redactFiles(d *render.Desired) {
	if a.opts.Redactor == nil {
		return
	}
	for _, s := range d.Services {
		for _, f := range s.Files {
			if f.Secret() && len(f.Content) > 0 {
				a.opts.Redactor.Add(strings.TrimSpace(string(f.Content)))
			}
		}
	}
}
