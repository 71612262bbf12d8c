package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/promote"
)

func newPolicyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Show and accept the gate policy pinned for a rung",
		Long: `A rung's gate policy (from, protected, gates.signed, approvals, soak, the
gate tests, maxErrorRate, maxP95) is pinned in the store at its first
deploy. A ladder.yaml that asks for more applies at once and is pinned in
turn; one that asks for less is refused, by promote, rollback and every
deploy to the rung (exit 9), until someone accepts it with
` + "`ladder policy accept ENV`" + `, which the audit trail records.`,
		Example: `  ladder policy show prod
  ladder policy show prod -o json
  ladder policy accept prod`,
	}
	show := &cobra.Command{
		Use:   "show ENV",
		Short: "Show the pinned policy beside ladder.yaml's",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			env, err := ws.environment(args[0])
			if err != nil {
				return err
			}
			ps, err := promote.PolicyOfStore(ctx, ws.store, env)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(ps)
			}
			printPolicy(a.Out, ps)
			return nil
		},
	}
	accept := &cobra.Command{
		Use:   "accept ENV",
		Short: "Pin ladder.yaml's policy for ENV, weaker or not",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			env, err := ws.environment(args[0])
			if err != nil {
				return err
			}
			by, err := a.actAs(ctx, ws, env.Name, auth.ActionAdmin)
			if err != nil {
				return err
			}
			before, err := promote.PolicyOfStore(ctx, ws.store, env)
			if err != nil {
				return err
			}
			ps, err := promote.AcceptPolicy(ctx, ws.store, env, by, time.Now().UTC())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(ps)
			}
			if len(before.Weaker) > 0 {
				fmt.Fprintf(a.Out, "accepted a weaker policy for %s: %s\n", env.Name, strings.Join(before.Weaker, "; "))
			} else {
				fmt.Fprintf(a.Out, "pinned ladder.yaml's policy for %s\n", env.Name)
			}
			printPolicy(a.Out, ps)
			return nil
		},
	}
	cmd.AddCommand(show, accept)
	return cmd
}

func printPolicy(w io.Writer, ps promote.PolicyState) {
	line := func(p promote.Policy) string {
		parts := []string{"from " + orNoneStr(p.From)}
		parts = append(parts, p.Gates()...)
		parts = append(parts, fmt.Sprintf("maxErrorRate %g", p.MaxErrorRate))
		if p.MaxP95 != "" {
			parts = append(parts, "maxP95 "+p.MaxP95)
		}
		return strings.Join(parts, ", ")
	}
	if ps.Pinned == nil {
		fmt.Fprintf(w, "%s: nothing pinned yet (the first deploy pins ladder.yaml's policy)\n", ps.Env)
	} else {
		fmt.Fprintf(w, "pinned  %s (%s by %s)\n", line(*ps.Pinned), ps.PinnedAt.Local().Format("2006-01-02 15:04"), orDashStr(ps.PinnedBy))
	}
	fmt.Fprintf(w, "file    %s\n", line(ps.File))
	if len(ps.Weaker) > 0 {
		fmt.Fprintf(w, "ladder.yaml is weaker: %s\n%s refuses every snapshot until: ladder policy accept %s\n", strings.Join(ps.Weaker, "; "), ps.Env, ps.Env)
	}
}

func orNoneStr(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
