package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/engine"
)

// startAgent has the engine run env (starting a background engine when
// none runs) and returns a client for env's agent once it answers.
func (a *app) startAgent(ctx context.Context, ws *workspace, env, dashboard string) (*agent.Client, error) {
	req := engine.RunRequest{Env: env, Dashboard: dashboard, Target: a.targetOverride(), AllowRemote: a.dashboardAllowRemote}
	var last error
	// An engine found on its way out (its last environment just went
	// down) answers "stopping": the next attempt starts a new one.
	for range 3 {
		ec, ok := engine.Find(ctx, ws.stateDir)
		if !ok {
			var err error
			if ec, err = engine.Spawn(ctx, engine.SpawnOptions{Dir: ws.project.Dir, StateDir: ws.stateDir, Args: a.engineArgs(), Env: engineEnv()}); err != nil {
				return nil, err
			}
		}
		ec.Token = auth.Credential(ws.stateDir)
		info, err := ec.Run(ctx, req)
		if errors.Is(err, engine.ErrStopping) {
			last = err
			continue
		}
		if err != nil {
			err = engineCallErr(err)
			var ee *ExitError
			if errors.As(err, &ee) {
				ee.Err = fmt.Errorf("starting %s: %w", env, ee.Err)
				return nil, ee
			}
			return nil, fmt.Errorf("starting %s: %w", env, err)
		}
		if info.FellBack {
			fmt.Fprintf(a.Err, "dashboard address of %s in use; it serves on %s instead\n", env, info.URL)
		}
		return agent.Await(ctx, ws.stateDir, env, info.URL)
	}
	return nil, fmt.Errorf("starting %s: %w", env, last)
}

// deployTo deploys a recorded snapshot to env through its agent, starting
// one when none runs. Nothing is built.
// grant is the token a promotion or rollback issued for it ("" for none).
func (a *app) deployTo(ctx context.Context, ws *workspace, env, id, grant string) (*api.DeployResult, error) {
	c, ok := agent.Find(ctx, ws.stateDir, env)
	if !ok {
		var err error
		if a.inEngine != nil {
			// This process is the engine: it runs the rung itself.
			c, err = a.inEngine(ctx, env)
		} else {
			c, err = a.startAgent(ctx, ws, env, "")
		}
		if err != nil {
			return nil, err
		}
	}
	// The agent records who deploys from the token the client sends.
	return c.Deploy(ctx, api.DeployRequest{Snapshot: id, Grant: grant})
}

// endpointsOf returns SERVICE_URL variables for env's first site.
func (a *app) endpointsOf(ctx context.Context, ws *workspace, env string) (map[string]string, error) {
	return agent.Endpoints(ctx, ws.stateDir, env)
}
