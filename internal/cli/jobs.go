package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

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
on every rung, recorded here with the snapshot they ran with.`,
		Example: "  ladder jobs staging",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			env := ""
			if len(args) == 1 {
				e, err := ws.environment(args[0])
				if err != nil {
					return err
				}
				env = e.Name
			}
			runs, err := ws.store.ListJobs(ctx, env, limit)
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
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "how many (0: all)")
	return cmd
}
