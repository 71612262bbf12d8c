package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/target"
)

func newDownCmd(a *app) *cobra.Command {
	var (
		env     string
		all     bool
		volumes bool
	)
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the running stack and everything it started",
		Long: `down asks the ladder agent running the environment to stop every
instance and exit. When no agent runs, it stops any instance a killed ladder
process left behind, and removes the Compose project of a site on the
compose target (whose containers outlive ladder). Named volumes are kept
unless --volumes is given. With --all it does so for every rung of the
ladder. The store keeps every snapshot, release and event.

down holds the environment's lease while it works: a promotion, rollback
or up of the environment under way is waited for a few seconds, then down
is refused as busy (exit 7).

With LADDER_SERVER (and LADDER_TOKEN), the ladder server takes the rungs
down where they run: name the environment or give --all; the token needs
the deployer role on each.`,
		Example: `  ladder down
  ladder down --env local
  ladder down --all
  LADDER_SERVER=https://ladder.internal ladder down --env preview-42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if all && env != "" {
				return exitf(ExitConfig, "--all and --env exclude each other")
			}
			req := downRequest{Env: env, All: all, Volumes: volumes}
			if os.Getenv(EnvServer) != "" {
				return a.remoteDown(ctx, req)
			}
			ws, err := a.open(ctx)
			if errors.Is(err, store.ErrLost) || errors.Is(err, store.ErrDamaged) {
				// What runs must still be stoppable, if only to restore
				// the store safely: the agent needs no store to be asked.
				return a.downWithoutStore(ctx, env, all, err)
			}
			if err != nil {
				return err
			}
			defer ws.Close()
			results, err := a.down(ctx, ws, req, &printer{w: a.Out, quiet: a.json()})
			if err != nil {
				return err
			}
			return a.printDown(req, results)
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment (default: the first rung)")
	cmd.Flags().BoolVar(&all, "all", false, "stop every rung of the ladder")
	cmd.Flags().BoolVar(&volumes, "volumes", false, "also remove named volumes")
	return cmd
}

// downRequest is what ladder down is asked: one environment (the first
// rung when Env is empty) or All of them.
type downRequest struct {
	Env     string `json:"env,omitempty"`
	All     bool   `json:"all,omitempty"`
	Volumes bool   `json:"volumes,omitempty"`
}

// downResult says whether down stopped anything of an environment.
type downResult struct {
	Env     string `json:"environment"`
	Stopped bool   `json:"stopped"`
}

// down takes the environments req names down, the last rungs first:
// nothing promotes into a rung being taken down from one below it. Each
// needs the role that takes it down when the workspace acts for a
// principal (in an engine, for a thin client).
func (a *app) down(ctx context.Context, ws *workspace, req downRequest, out *printer) ([]downResult, error) {
	var envs []string
	if req.All {
		for _, e := range ws.project.Ladder.Environments {
			if !e.Template {
				envs = append(envs, e.Name)
			}
		}
	} else {
		e, err := ws.environment(req.Env)
		if err != nil {
			return nil, err
		}
		envs = []string{e.Name}
	}
	if ws.who != nil {
		for _, env := range envs {
			if err := auth.Authorize(*ws.who, env, auth.ActionDown); err != nil {
				return nil, &ExitError{Code: ExitUnauthorized, Err: err, Hint: credentialHint}
			}
		}
	}
	var results []downResult
	var errs []error
	for i := len(envs) - 1; i >= 0; i-- {
		stopped, err := a.downEnv(ctx, ws, envs[i], req.Volumes, out)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		results = append(results, downResult{Env: envs[i], Stopped: stopped})
	}
	if len(errs) == 1 {
		return results, errs[0]
	}
	return results, errors.Join(errs...)
}

// printDown prints, with -o json, what down did: one result, or with
// --all every environment's.
func (a *app) printDown(req downRequest, results []downResult) error {
	if !a.json() {
		return nil
	}
	if !req.All && len(results) == 1 {
		return a.printJSON(results[0])
	}
	if results == nil {
		results = []downResult{}
	}
	return a.printJSON(results)
}

// remoteDown asks the ladder server (LADDER_SERVER) to take environments
// down, where they run.
func (a *app) remoteDown(ctx context.Context, req downRequest) error {
	if req.Env == "" && !req.All {
		return exitf(ExitConfig, "with %s, name the environment (ladder down --env ENV) or take every rung down (--all)", EnvServer)
	}
	c, err := a.thinClient(ctx)
	if err != nil {
		return err
	}
	var results []downResult
	if _, err := a.callVerb(ctx, c, "/v1/down", req, &results); err != nil {
		return err
	}
	return a.printDown(req, results)
}

// downEnv takes one environment down under its lease.
func (a *app) downEnv(ctx context.Context, ws *workspace, env string, volumes bool, out *printer) (bool, error) {
	e, err := ws.environment(env)
	if err != nil {
		return false, err
	}
	held, err := a.holdEnv(ctx, ws, e.Name)
	if err != nil {
		return false, err
	}
	defer held.Release()
	// Under the rung's lease, so nothing changes it between the check
	// and the stop.
	if err := promote.CheckIfMatch(ctx, ws.store, e.Name, ws.ifMatch); err != nil {
		return false, err
	}
	rec := &deploy.Recorder{Store: ws.store, Logger: a.logger()}
	stopped := false
	if c, ok := agent.Find(ctx, ws.stateDir, e.Name); ok {
		downCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		if err := c.Down(downCtx); err != nil {
			return false, err
		}
		stopped = true
		out.printf("%s stopped (agent pid %d)\n", e.Name, c.Info.PID)
	}
	if err := a.recover(ctx, ws, rec, e.Name, out); err != nil {
		return false, err
	}
	// The containers of a site on the compose target outlive ladder, and
	// so do those of the engine half of a site on the process target; the
	// named volumes of either are removed here when asked for. Each site
	// is taken down where its last release ran, on its own engine.
	places, err := a.sitePlacements(ctx, ws, e.Name, true)
	if err != nil {
		// No target to ask (an unknown --target, say): only what the
		// agent and recovery stopped.
		places = nil
	}
	for _, s := range e.Sites {
		ref := render.SiteRef{Env: e.Name, Site: s.Name}
		p, ok := places[s.Name]
		if !ok {
			continue
		}
		tgt, err := a.buildSites(ctx, ws, e.Name, map[string]placement{s.Name: p}, "", nil)
		if err != nil {
			return false, err
		}
		containers := 0
		if p.kind == spec.KindCompose {
			obs, err := tgt.Observe(ctx, ref)
			if err != nil {
				return false, err
			}
			containers = len(obs.Instances)
		}
		if err := tgt.Down(ctx, ref, target.DownOptions{Volumes: volumes}); err != nil {
			return false, err
		}
		if !stopped {
			// No agent took it down (none ran): the record still says it
			// was, so no engine brings it back.
			rec.Record(store.Event{Kind: store.EventStackDown, Env: ref.Env, Site: ref.Site, Message: fmt.Sprintf("%s taken down", ref)})
		}
		if containers > 0 {
			stopped = true
			out.printf("%s: removed %d container(s)%s\n", ref, containers, onEngine(tgt, ref))
		}
	}
	if !stopped {
		out.printf("nothing running for %s\n", e.Name)
	}
	return stopped, nil
}

// downWithoutStore stops the environment's agent when the store cannot be
// opened, says what it could not do without the store, and returns the
// store's error (exit 6) once the agent is stopped.
func (a *app) downWithoutStore(ctx context.Context, env string, all bool, storeErr error) error {
	p, err := a.load(ctx)
	if err != nil {
		return err
	}
	envs := []*spec.Environment{&p.Ladder.Environments[0]}
	switch {
	case all:
		envs = nil
		for i := range p.Ladder.Environments {
			envs = append(envs, &p.Ladder.Environments[i])
		}
	case env != "":
		found, ok := p.Ladder.Environment(env)
		if !ok {
			return exitf(ExitConfig, "no environment %q in the ladder", env)
		}
		envs = []*spec.Environment{found}
	}
	stateDir := p.Ladder.State
	if !filepath.IsAbs(stateDir) {
		stateDir = filepath.Join(p.Dir, stateDir)
	}
	out := &printer{w: a.Out, quiet: a.json()}
	for _, e := range envs {
		if c, ok := agent.Find(ctx, stateDir, e.Name); ok {
			downCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
			err := c.Down(downCtx)
			cancel()
			if err != nil {
				return errors.Join(err, storeErr)
			}
			out.printf("%s stopped (agent pid %d)\n", e.Name, c.Info.PID)
		} else {
			out.printf("no agent runs %s\n", e.Name)
		}
		fmt.Fprintf(a.Err, "ladder: without its store, ladder cannot tell what else %s left running (compose containers, instances of a killed agent)\n", e.Name)
	}
	return storeErr
}
