package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/deploy"
)

func newDownCmd(a *app) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the running stack and everything it started",
		Long: `down asks the ladder agent running the environment to stop every
instance and exit. When no agent runs, it stops any instance a killed ladder
process left behind. The store keeps every snapshot, release and event.`,
		Example: `  ladder down
  ladder down --env local`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			e, err := ws.environment(env)
			if err != nil {
				return err
			}
			out := &printer{w: a.Out, quiet: a.json()}
			rec := &deploy.Recorder{Store: ws.store, Logger: a.logger()}
			stopped := false
			if c, ok := agent.Find(ctx, ws.stateDir, e.Name); ok {
				downCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
				defer cancel()
				if err := c.Down(downCtx); err != nil {
					return err
				}
				stopped = true
				out.printf("%s stopped (agent pid %d)\n", e.Name, c.Info.PID)
			}
			if err := a.recover(ctx, ws, rec, e.Name, out); err != nil {
				return err
			}
			if !stopped {
				out.printf("nothing running for %s\n", e.Name)
			}
			if a.json() {
				return a.printJSON(map[string]any{"environment": e.Name, "stopped": stopped})
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment (default: the first rung)")
	return cmd
}
