package cli

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/engine"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

func newJobsCmd(a *app) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "jobs [ENV]",
		Short: "Which migration and seed jobs ran with which snapshot, per environment",
		Long: `jobs lists the runs of the stack's jobs (services with x-ladder: {job:
migration} or {job: seed}): declared once in compose.yaml, run the same way
on every rung, recorded here with the snapshot they ran with.

With LADDER_SERVER (and LADDER_TOKEN), the ladder server answers, for a
token with the viewer role on ENV (on every environment without ENV).`,
		Example: "  ladder jobs staging",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if limit < 0 {
				return exitf(ExitConfig, "--limit takes a number of 0 or more")
			}
			env := ""
			if len(args) == 1 {
				env = args[0]
			}
			var runs []store.JobRun
			err := a.serverOr(ctx, func(c *engine.Client) error {
				_, err := a.callRead(ctx, c, "/v1/jobs?"+queryOf(map[string]string{"env": env, "limit": strconv.Itoa(limit)}).Encode(), &runs)
				return err
			}, func(ws *workspace) (err error) {
				runs, err = jobRuns(ctx, ws, env, limit)
				return err
			})
			if err != nil {
				return err
			}
			if a.json() {
				if runs == nil {
					runs = []store.JobRun{}
				}
				return a.printJSON(runs)
			}
			tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WHEN\tENV/SITE\tJOB\tSNAPSHOT\tOUTCOME")
			for _, r := range runs {
				fmt.Fprintf(tw, "%s\t%s/%s\t%s\t%s\t%s\n", r.At.Local().Format("2006-01-02 15:04:05"), r.Env, r.Site, r.Job, snapshot.Short(r.Snapshot), r.Outcome)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "how many (0: all; through a server, at most 500)")
	return cmd
}

// jobRuns lists the newest limit job runs (0: all) of the environment
// named env, or of every environment when env is empty.
func jobRuns(ctx context.Context, ws *workspace, env string, limit int) ([]store.JobRun, error) {
	if env != "" {
		e, err := ws.environment(env)
		if err != nil {
			return nil, err
		}
		env = e.Name
	}
	return ws.store.ListJobs(ctx, env, limit)
}

// jobRoutes list job runs for thin clients, as ladder jobs does: for a
// viewer of the environment, or of every one when none is named.
func (v *engineVerbs) jobRoutes(mux engine.Mux) {
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		q, err := pageQuery(r)
		if err != nil {
			writeVerbStatus(w, http.StatusBadRequest, err.Error())
			return
		}
		env := r.URL.Query().Get("env")
		v.read(w, r, env, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			runs, err := jobRuns(ctx, ws, env, q.Limit)
			if runs == nil && err == nil {
				runs = []store.JobRun{}
			}
			return runs, err
		})
	})
}
