package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

func newStatusCmd(a *app) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what runs where, healthy or not, and its telemetry",
		Long: `status shows, for each site of the environment, the snapshot it runs and
each service's health, instances, request rate, error rate, p95 latency and
URLs. It exits 0 when everything is healthy, 3 when something is not, and 4
when the environment is not running (then it shows the last release).`,
		Example: `  ladder status
  ladder status -o json | jq '.sites[0].snapshot'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if os.Getenv(EnvServer) != "" {
				return a.remoteStatus(ctx, env)
			}
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			e, err := ws.environment(env)
			if err != nil {
				return err
			}
			rec := &deploy.Recorder{Store: ws.store, Logger: a.logger()}
			c, running := agent.Find(ctx, ws.stateDir, e.Name)
			if !running {
				// Only without a live agent is anything left to recover.
				out := &printer{w: a.Err}
				if err := a.recover(ctx, ws, rec, e.Name, out); err != nil {
					return err
				}
				return a.statusStopped(cmd, ws, e.Name)
			}
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			return a.showStatus(st)
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment (default: the first rung)")
	return cmd
}

// showStatus prints a running environment's status; exit 3 when
// something is not healthy.
func (a *app) showStatus(st *api.Status) error {
	if a.json() {
		if err := a.printJSON(st); err != nil {
			return err
		}
	} else {
		printStatus(a.Out, st)
	}
	if !healthy(st) {
		return &ExitError{Code: ExitUnhealthy, Err: fmt.Errorf("%s is not healthy", st.Environment), Reported: a.json()}
	}
	return nil
}

// remoteStatus asks the ladder server (LADDER_SERVER) for env's status.
func (a *app) remoteStatus(ctx context.Context, env string) error {
	if env == "" {
		return exitf(ExitConfig, "with %s, name the environment: ladder status --env ENV", EnvServer)
	}
	c, err := a.thinClient(ctx)
	if err != nil {
		return err
	}
	var st api.Status
	if err := c.Do(ctx, http.MethodGet, "/v1/envs/"+url.PathEscape(env)+"/status", nil, &st); err != nil {
		return engineCallErr(err)
	}
	return a.showStatus(&st)
}

func healthy(st *api.Status) bool {
	for _, site := range st.Sites {
		for _, svc := range site.Services {
			switch svc.Health {
			case "healthy", "running", "completed":
			default:
				return false
			}
		}
	}
	return true
}

// stoppedSite is what status says of a site no agent runs: where its
// last release ran, and what still runs there (containers outlive
// ladder).
type stoppedSite struct {
	Site   string `json:"site"`
	Target string `json:"target,omitempty"`
	Engine string `json:"engine,omitempty"`
	// Instances is how many instances of the site run there; nil when
	// that could not be read.
	Instances *int   `json:"instances,omitempty"`
	Error     string `json:"error,omitempty"`
}

// stoppedSites looks at each site of env where its last release ran.
func (a *app) stoppedSites(ctx context.Context, ws *workspace, env string) []stoppedSite {
	e, err := ws.environment(env)
	if err != nil {
		return nil
	}
	var out []stoppedSite
	for _, s := range e.Sites {
		p, ok, err := a.recordedPlacement(ctx, ws, e.Name, s)
		if err != nil || !ok {
			continue
		}
		ss := stoppedSite{Site: s.Name, Target: p.kind}
		tgt, err := a.buildSites(ctx, ws, e.Name, map[string]placement{s.Name: p}, "", nil)
		if err != nil {
			ss.Error = err.Error()
			out = append(out, ss)
			continue
		}
		ref := render.SiteRef{Env: e.Name, Site: s.Name}
		ss.Engine = tgt.Locate(ref).Engine
		obs, err := tgt.Observe(ctx, ref)
		if err != nil {
			ss.Error = err.Error()
		} else {
			n := 0
			for _, in := range obs.Instances {
				if in.State == plan.StateRunning || in.State == plan.StateStarting {
					n++
				}
			}
			ss.Instances = &n
		}
		out = append(out, ss)
	}
	return out
}

func (a *app) statusStopped(cmd *cobra.Command, ws *workspace, env string) error {
	rels, err := ws.store.ListReleases(cmd.Context(), store.ReleaseFilter{Env: env, Limit: 5})
	if err != nil {
		return err
	}
	sites := a.stoppedSites(cmd.Context(), ws, env)
	if a.json() {
		if err := a.printJSON(map[string]any{"environment": env, "running": false, "releases": rels, "sites": sites}); err != nil {
			return err
		}
		return &ExitError{Code: ExitNotRunning, Err: fmt.Errorf("%s is not running", env), Reported: true}
	}
	fmt.Fprintf(a.Out, "%s is not running\n", env)
	for _, s := range sites {
		where := s.Target
		if s.Engine != "" {
			where += " on " + s.Engine
		}
		switch {
		case s.Error != "":
			fmt.Fprintf(a.Out, "  site %s (%s): %s\n", s.Site, where, s.Error)
		case s.Instances != nil && *s.Instances > 0:
			fmt.Fprintf(a.Out, "  site %s (%s): %d instance(s) still run there\n", s.Site, where, *s.Instances)
		default:
			fmt.Fprintf(a.Out, "  site %s (%s): nothing runs there\n", s.Site, where)
		}
	}
	for _, r := range rels {
		on := ""
		if r.Target != "" {
			on = "  on " + r.Target
		}
		if r.Engine != "" {
			on += " at " + r.Engine
		}
		fmt.Fprintf(a.Out, "  release %d  %s/%s  snapshot %s  %s  %s%s\n", r.ID, r.Env, r.Site, snapshot.Short(r.Snapshot), r.Phase, r.Started.Local().Format("2006-01-02 15:04:05"), on)
	}
	return &ExitError{Code: ExitNotRunning, Err: fmt.Errorf("%s is not running", env), Hint: "ladder up", Reported: true}
}
