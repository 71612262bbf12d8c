package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/parity"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

func newDiffCmd(a *app) *cobra.Command {
	var snapID string
	cmd := &cobra.Command{
		Use:   "diff ENV_A ENV_B",
		Short: "Show how one snapshot differs between two rungs, and whether it may",
		Long: `diff renders one snapshot (default: the newest) for the first site of two
environments and lists every field that differs, service by service, each
classed as allowed (scale, tier, endpoint, feature flag, secret) or as a
violation of the parity contract (digest, entrypoint, command, working
directory, health check, container ports, dependencies, ...). Secret values
are never loaded: a secret shows as <redacted> where the two rungs use
different secrets. It exits 2 when any difference is a violation, 0
otherwise.`,
		Example: `  ladder diff staging prod
  ladder diff dev prod --snapshot 3f2a9c1b
  ladder diff local dev -o json | jq '.lines[] | select(.class == "violation")'`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			ea, err := ws.environment(args[0])
			if err != nil {
				return err
			}
			eb, err := ws.environment(args[1])
			if err != nil {
				return err
			}
			var snap *snapshot.Snapshot
			if snapID != "" {
				if snap, err = ws.store.GetSnapshot(ctx, snapID); err != nil {
					return err
				}
			} else {
				snaps, err := ws.store.ListSnapshots(ctx, store.SnapshotFilter{Limit: 1})
				if err != nil {
					return err
				}
				if len(snaps) == 0 {
					return &ExitError{Code: ExitNotRunning, Err: fmt.Errorf("no snapshot to compare yet"), Hint: "ladder up (it builds one)"}
				}
				snap = snaps[0]
			}
			if snap.StackHash != ws.project.Stack.Hash && !a.json() {
				fmt.Fprintf(a.Err, "note: snapshot %s was taken from another version of %s; it is rendered with the current one\n",
					snapshot.Short(snap.ID), ws.project.Stack.Name)
			}
			images := render.FromImages(ws.builder.Image)
			opts := render.Options{Secrets: render.Placeholder}
			da, err := render.RenderWith(ws.project, ea.Name, ea.Sites[0].Name, snap, images, opts)
			if err != nil {
				return fmt.Errorf("rendering snapshot %s for %s: %w", snapshot.Short(snap.ID), ea.Name, err)
			}
			db, err := render.RenderWith(ws.project, eb.Name, eb.Sites[0].Name, snap, images, opts)
			if err != nil {
				return fmt.Errorf("rendering snapshot %s for %s: %w", snapshot.Short(snap.ID), eb.Name, err)
			}
			r := parity.Diff(da, db)
			if a.json() {
				if err := a.printJSON(r); err != nil {
					return err
				}
			} else {
				fmt.Fprint(a.Out, r.String())
			}
			if !r.OK() {
				return &ExitError{Code: ExitConfig, Err: fmt.Errorf("%d parity violation(s) between %s and %s", r.Violations, ea.Name, eb.Name), Reported: true}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&snapID, "snapshot", "", "snapshot ID or unique prefix (default: the newest)")
	return cmd
}
