package cli

import (
	"context"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/api"
)

// startAgent starts `ladder agent` for env detached and waits until it
// answers.
func (a *app) startAgent(ctx context.Context, ws *workspace, env, dashboard string) (*agent.Client, error) {
	var extra []string
	if dashboard != "" {
		extra = append(extra, "--dashboard", dashboard)
	}
	if a.target != "" {
		extra = append(extra, "--target", a.target)
	}
	if a.dashboardAllowRemote {
		extra = append(extra, "--dashboard-allow-remote")
	}
	return agent.Start(ctx, agent.StartOptions{
		Dir: ws.project.Dir, StateDir: ws.stateDir, Env: env, Load: a.loadOptions(), Args: extra,
	})
}

// deployTo deploys a recorded snapshot to env through its agent, starting
// one when none runs. Nothing is built.
// grant is the token a promotion or rollback issued for it ("" for none).
func (a *app) deployTo(ctx context.Context, ws *workspace, env, id, grant string) (*api.DeployResult, error) {
	c, ok := agent.Find(ctx, ws.stateDir, env)
	if !ok {
		var err error
		if c, err = a.startAgent(ctx, ws, env, ""); err != nil {
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
