package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/sign"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// buildAnswer is `ladder build -o json`.
type buildAnswer struct {
	Snapshot *snapshot.Snapshot `json:"snapshot"`
	Created  bool               `json:"created"`
	Build    *build.Report      `json:"build"`
	Signed   bool               `json:"signed"`
}

func newBuildCmd(a *app) *cobra.Command {
	var pull string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build what changed and record the snapshot, without deploying it",
		Long: `build does what up does before it deploys: it builds every service whose
inputs changed, pins every image by digest, records the snapshot (signed
and with SBOMs when a signing key is set up) and prints its ID. Nothing
runs. This is the CI half of "build once, promote the digest": CI builds
and pushes the snapshot (` + "`ladder push`" + `), and the machine that deploys
pulls it and runs the very same digests.`,
		Example: `  ladder build
  id=$(ladder build -o json | jq -r .snapshot.id) && ladder push "$id" --to registry.example.com/team`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := checkPull(pull); err != nil {
				return err
			}
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			if _, err := a.actAs(ctx, ws, "", auth.ActionDeploy); err != nil {
				return err
			}
			out := &printer{w: a.Err, quiet: a.json()}
			made, err := a.snapshotForUp(ctx, ws, upOptions{pull: pull}, out)
			if err != nil {
				return err
			}
			signed := true
			if err := a.sealSnapshot(ctx, ws, made, out); err != nil {
				fmt.Fprintf(a.Err, "warning: snapshot %s not signed: %v\n", snapshot.Short(made.Snapshot.ID), err)
				signed = false
			} else if !hasSignature(ws, made.Snapshot.ID) {
				signed = false
			}
			made.Report.WaitMoved()
			out.moved(made.Report)
			if a.json() {
				return a.printJSON(buildAnswer{Snapshot: made.Snapshot, Created: made.Created, Build: made.Report, Signed: signed})
			}
			state := "unchanged"
			if made.Created {
				state = "new"
			}
			fmt.Fprintf(a.Out, "snapshot %s (%s, %s built, %d unchanged, build %s, %s)\n", made.Snapshot.ID, state,
				plural(len(made.Report.Built), "service"), len(made.Report.Cached), round(made.Report.BuildTime), signedWord(signed))
			return nil
		},
	}
	cmd.Flags().StringVar(&pull, "pull", "", "for image services: always, missing or never (default: each service's pull_policy, else missing)")
	return cmd
}

// hasSignature says whether snapshot id has a signature here.
func hasSignature(ws *workspace, id string) bool {
	_, err := sign.LoadSignature(ws.signatureDir(), id)
	return err == nil
}
