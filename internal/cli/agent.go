package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newAgentCmd is the detached agent `up -d` starts; not for people.
func newAgentCmd(a *app) *cobra.Command {
	var env, dashboard string
	cmd := &cobra.Command{
		Use:    "agent",
		Short:  "Run an environment's agent (started by `ladder up -d`)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ws, err := a.openToChange(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			e, err := ws.environment(env)
			if err != nil {
				return err
			}
			ag, err := a.newAgent(ws, e.Name, dashboard)
			if err != nil {
				return err
			}
			fellBack, err := ag.Listen()
			if err != nil {
				return err
			}
			if fellBack {
				fmt.Fprintf(a.Err, "dashboard address in use; serving on %s instead\n", ag.URL())
			}
			fmt.Fprintf(a.Err, "ladder agent for %s serving %s\n", e.Name, ag.URL())
			return ag.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment")
	cmd.Flags().StringVar(&dashboard, "dashboard", "", "dashboard address")
	cmd.Flags().BoolVar(&a.dashboardAllowRemote, "dashboard-allow-remote", false, "allow a dashboard address other machines reach")
	cmd.Flags().StringVar(&a.target, "target", "", "runtime: auto, process, compose or hybrid")
	return cmd
}
