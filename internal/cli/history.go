package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

func newHistoryCmd(a *app) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:     "history [ENV]",
		Short:   "Every release of an environment, newest first",
		Example: "  ladder history staging\n  ladder history prod -o json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			env, err := ws.environment(name)
			if err != nil {
				return err
			}
			pr := a.promoter(ws)
			_ = pr.RefreshKnownGood(ctx, env.Name)
			rels, err := ws.store.ListReleases(ctx, store.ReleaseFilter{Env: env.Name, Limit: limit})
			if err != nil {
				return err
			}
			verdicts, err := pr.Verdicts(ctx, env.Name, "", "")
			if err != nil {
				return err
			}
			if a.json() {
				rows := make([]historyRow, 0, len(rels))
				for _, r := range rels {
					rows = append(rows, historyRow{Release: r, KnownGoodReason: verdicts[r.ID].Reason})
				}
				return a.printJSON(rows)
			}
			tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RELEASE\tSITE\tSNAPSHOT\tPHASE\tKNOWN-GOOD\tBY\tSTARTED\tTOOK\tREASON\tKNOWN-GOOD BECAUSE")
			for _, r := range rels {
				good, why := "", "-"
				if v, judged := verdicts[r.ID]; judged {
					good, why = "no", v.Reason
				}
				if r.KnownGood {
					good = "yes"
				}
				took := "-"
				if !r.Finished.IsZero() {
					took = round(r.Finished.Sub(r.Started)).String()
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Site, snapshot.Short(r.Snapshot), r.Phase, good,
					joinOr([]string{r.By}, "-"), r.Started.Local().Format("2006-01-02 15:04:05"), took, r.Reason, why)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "how many (0: all)")
	return cmd
}

// historyRow is a release as `ladder history -o json` shows it: with the
// reason it is, or is not, known-good once that was judged.
type historyRow struct {
	store.Release
	KnownGoodReason string `json:"knownGoodReason,omitempty"`
}

func newAuditCmd(a *app) *cobra.Command {
	var f store.AuditFilter
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Who did what, when and why: deploys, promotions, approvals, gates, rollbacks",
		Example: `  ladder audit
  ladder audit --env prod --action promote -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			entries, err := ws.store.ListAudit(ctx, f)
			if err != nil {
				return err
			}
			if a.json() {
				if entries == nil {
					entries = []store.AuditEntry{}
				}
				return a.printJSON(entries)
			}
			tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tENV\tSNAPSHOT\tOUTCOME\tDETAIL")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format("2006-01-02 15:04:05"), e.Actor, e.Action,
					joinOr([]string{e.Env}, "-"), joinOr([]string{snapshot.Short(e.Snapshot)}, "-"), e.Outcome, e.Detail)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&f.Env, "env", "", "only this environment")
	cmd.Flags().StringVar(&f.Action, "action", "", "only this action (deploy, promote, approve, gate, rollback)")
	cmd.Flags().StringVar(&f.Actor, "actor", "", "only this actor")
	cmd.Flags().IntVarP(&f.Limit, "limit", "n", 100, "how many (0: all)")
	return cmd
}
