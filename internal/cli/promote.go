package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// promoter builds the library object behind promote, approve and rollback.
func (a *app) promoter(ws *workspace) *promote.Promoter {
	return &promote.Promoter{
		Project: ws.project,
		Store:   ws.store,
		Deploy: func(ctx context.Context, env, id, _, grant string) (*api.DeployResult, error) {
			if err := a.refuseImagesOnRung(ctx, ws, env, id); err != nil {
				return nil, err
			}
			return a.deployTo(ctx, ws, env, id, grant)
		},
		Endpoints: func(ctx context.Context, env string) (map[string]string, error) {
			return a.endpointsOf(ctx, ws, env)
		},
		Verify:  a.verifier(ws),
		Push:    a.pushImages(ws),
		Events:  &deploy.Recorder{Store: ws.store, Logger: a.logger()},
		Holder:  a.holder(),
		Wait:    lease.Wait,
		Dir:     ws.project.Dir,
		IfMatch: ws.ifMatch,
	}
}

// holder is who holds the leases this command takes: the process, or, in
// an engine serving many requests at once, each request on its own.
func (a *app) holder() store.Holder {
	if a.inEngine != nil {
		return requestHolder()
	}
	return lease.Self()
}

func newPromoteCmd(a *app) *cobra.Command {
	var to, why string
	cmd := &cobra.Command{
		Use:   "promote SNAPSHOT --to ENV",
		Short: "Move a snapshot to the next rung once its gates pass",
		Long: `promote moves exactly the given snapshot (its artifact digests: nothing is
rebuilt) to ENV, after checking ENV's gates: the snapshot runs on every
site of the rung ENV promotes from (no rung is skipped), it ran there
healthy for the soak time, the gate test commands pass against that rung,
enough distinct identities approved it, and its signature verifies. Every
gate's result is recorded with its reason; a failed gate blocks the
promotion (exit 3) and says what to do. Promotions to one environment are
serialised.

Once the gates pass, promote issues a single-use grant (bound to ENV and
the snapshot, expiring in 15 minutes) that ENV's agent consumes: a gated
rung takes no snapshot without one, unless it is known-good there. A
ladder.yaml that asks less of ENV than the policy pinned in the store is
refused with exit 9 (see ` + "`ladder policy`" + `), and signatures verify against
the keys the store trusts (see ` + "`ladder trust`" + `).

The promotion is recorded as the identity of your token (LADDER_TOKEN, else
the local admin token); it needs the promoter role on ENV (exit 8 without).`,
		Example: `  ladder promote latest --to dev
  ladder promote 3f2a9c1b --to dev
  ladder promote 3f2a9c1b --to prod --why "release 1.4"
  ladder promote 3f2a9c1b --to staging -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if to == "" {
				return exitf(ExitConfig, "--to ENV is required")
			}
			// The engine that owns the rungs promotes (see ladder serve).
			c, err := a.thinClient(ctx)
			if err != nil {
				return err
			}
			var res promote.Result
			got, err := a.callVerb(ctx, c, "/v1/promote", promoteRequest{Snapshot: args[0], To: to, Why: why}, &res)
			if got {
				a.printPromotion(&res)
			}
			a.printFailed(err)
			return err
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "environment to promote to")
	cmd.Flags().StringVar(&why, "why", "", "why, for the audit trail")
	return cmd
}

// promoteIn promotes snapshot ref to env "to" as the workspace's
// principal and classifies what went wrong as the command reports it
// (printing nothing: the command, or a thin client, prints the result).
func (a *app) promoteIn(ctx context.Context, ws *workspace, ref, to, why string) (*promote.Result, error) {
	by, err := a.actAs(ctx, ws, to, auth.ActionPromote)
	if err != nil {
		return nil, err
	}
	ref, err = resolveSnapshot(ctx, ws, ref)
	if err != nil {
		return nil, err
	}
	res, err := a.promoter(ws).Promote(ctx, promote.Request{Snapshot: ref, To: to, By: by, Why: why})
	var blocked *promote.BlockedError
	var locked *promote.LockedError
	switch {
	case errors.As(err, &blocked):
		return res, &ExitError{Code: ExitUnhealthy, Err: err, Reported: true}
	case errors.As(err, &locked):
		return res, &ExitError{Code: ExitBusy, Err: err}
	case errors.Is(err, promote.ErrNotAdmitted):
		return res, &ExitError{Code: ExitRefused, Err: err}
	case errors.Is(err, store.ErrNotFound):
		return res, &ExitError{Code: ExitNotRunning, Err: err, Hint: "ladder snapshots"}
	case err != nil && res != nil && res.Deploy != nil:
		return res, deployFailErr(res.Deploy, err)
	}
	return res, err
}

func (a *app) printPromotion(res *promote.Result) {
	if a.json() {
		_ = a.printJSON(res)
		return
	}
	p := res.Promotion
	fmt.Fprintf(a.Out, "promotion %d: snapshot %s %s -> %s\n", p.ID, snapshot.Short(res.Snapshot.ID), p.From, p.To)
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	for _, g := range res.Gates {
		mark := "✓"
		if !g.Passed {
			mark = "✗"
		}
		fmt.Fprintf(tw, "  %s %s\t%s\n", mark, g.Gate, g.Reason)
	}
	tw.Flush()
	switch {
	case p.Phase == store.PromotionSucceeded && res.Deploy != nil:
		if res.Deploy.Release == 0 {
			fmt.Fprintf(a.Out, "%s already runs snapshot %s\n", p.To, snapshot.Short(res.Snapshot.ID))
		} else {
			fmt.Fprintf(a.Out, "%s runs snapshot %s (release %d, %s, nothing rebuilt)\n", p.To, snapshot.Short(res.Snapshot.ID), res.Deploy.Release, round(res.Deploy.Duration))
		}
	case p.Phase == store.PromotionBlocked:
		fmt.Fprintf(a.Out, "blocked: %s\n", p.Reason)
	}
}

func newApproveCmd(a *app) *cobra.Command {
	var to, comment string
	cmd := &cobra.Command{
		Use:   "approve SNAPSHOT --to ENV",
		Short: "Approve a snapshot for an environment",
		Long: `approve records your approval of a snapshot for ENV (whose gates may ask
for N approvals from distinct identities). Who approves is the identity of
your token (LADDER_TOKEN, else the local admin token), which needs the
approver role on ENV. Approving twice with the same identity is refused,
and on a protected rung whoever promoted the snapshot there, or made it,
cannot approve it: a second person has to.`,
		Example: `  ladder approve 3f2a9c1b --to prod --comment "checked the canary"

  # a second person: a token with the approver role for prod
  ladder token create ana --role approver:prod
  LADDER_TOKEN=ldr_... ladder approve 3f2a9c1b --to prod`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if to == "" {
				return exitf(ExitConfig, "--to ENV is required")
			}
			c, err := a.thinClient(ctx)
			if err != nil {
				return err
			}
			ap := &store.Approval{}
			if _, err := a.callVerb(ctx, c, "/v1/approve", approveRequest{Snapshot: args[0], To: to, Comment: comment}, ap); err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(ap)
			}
			fmt.Fprintf(a.Out, "%s approved snapshot %s for %s\n", ap.By, snapshot.Short(ap.Snapshot), ap.Env)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "environment the approval is for")
	cmd.Flags().StringVar(&comment, "comment", "", "why, for the audit trail")
	return cmd
}

// approveIn records the workspace principal's approval of ref for env to.
func (a *app) approveIn(ctx context.Context, ws *workspace, ref, to, comment string) (*store.Approval, error) {
	by, err := a.actAs(ctx, ws, to, auth.ActionApprove)
	if err != nil {
		return nil, err
	}
	ref, err = resolveSnapshot(ctx, ws, ref)
	if err != nil {
		return nil, err
	}
	ap, err := a.promoter(ws).Approve(ctx, ref, to, by, comment)
	if err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, &ExitError{Code: ExitNotRunning, Err: err}
		case errors.Is(err, auth.ErrForbidden):
			return nil, &ExitError{Code: ExitUnauthorized, Err: err, Hint: "a second person approves with their own token: LADDER_TOKEN=... ladder approve"}
		}
		return nil, &ExitError{Code: ExitConfig, Err: err}
	}
	return &ap, nil
}

func newRollbackCmd(a *app) *cobra.Command {
	var to, why string
	cmd := &cobra.Command{
		Use:   "rollback ENV",
		Short: "Redeploy an environment's last known-good snapshot",
		Long: `rollback redeploys the newest known-good snapshot of ENV other than the one
it runs (or --to SNAPSHOT, any snapshot that once ran there successfully).
A release is known-good once, over the soak of the rung that promotes from
ENV (if any), every service stayed healthy and kept its error rate and p95
within that rung's gates (maxErrorRate, 5% by default; maxP95); ` + "`ladder history ENV`" + `
says why each release is or is not. Nothing is rebuilt, and it works when
the current snapshot is broken (crash-looping, failing health). The
rollback issues the grant a gated rung needs (see ` + "`ladder promote --help`" + `);
a ladder.yaml weaker than ENV's pinned policy is refused with exit 9.`,
		Example: `  ladder rollback staging
  ladder rollback prod --to 1a2b3c4d --why "checkout errors"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.thinClient(ctx)
			if err != nil {
				return err
			}
			res := &promote.RollbackResult{}
			if _, err := a.callVerb(ctx, c, "/v1/rollback", rollbackRequest{Env: args[0], To: to, Why: why}, res); err != nil {
				a.printFailed(err)
				return err
			}
			if a.json() {
				return a.printJSON(res)
			}
			fmt.Fprintf(a.Out, "%s rolled back from %s to snapshot %s (release %d, %s, nothing rebuilt)\n",
				res.Environment, orNone(snapshot.Short(res.From)), snapshot.Short(res.To.ID), res.Deploy.Release, round(res.Deploy.Duration))
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "snapshot to roll back to (default: the last known-good)")
	cmd.Flags().StringVar(&why, "why", "", "why, for the audit trail")
	return cmd
}

// rollbackIn rolls env back as the workspace's principal.
func (a *app) rollbackIn(ctx context.Context, ws *workspace, env, to, why string) (*promote.RollbackResult, error) {
	by, err := a.actAs(ctx, ws, env, auth.ActionRollback)
	if err != nil {
		return nil, err
	}
	res, err := a.promoter(ws).Rollback(ctx, env, to, by, why)
	if err != nil && res != nil && res.Deploy != nil {
		return res, deployFailErr(res.Deploy, err)
	}
	return res, err
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
