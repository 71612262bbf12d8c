package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/engine"
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
` + "`ladder policy accept ENV`" + `, which the audit trail records.

With LADDER_SERVER (and LADDER_TOKEN), the ladder server answers: show
needs the viewer role on ENV, accept the admin role, and the ladder.yaml
compared and pinned is the server's.`,
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
			var ps promote.PolicyState
			err := a.serverOr(ctx, func(c *engine.Client) error {
				_, err := a.callRead(ctx, c, "/v1/envs/"+url.PathEscape(args[0])+"/policy", &ps)
				return err
			}, func(ws *workspace) (err error) {
				ps, err = policyOf(ctx, ws, args[0])
				return err
			})
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
			var acc policyAccepted
			err := a.serverOr(ctx, func(c *engine.Client) error {
				_, err := a.callVerb(ctx, c, "/v1/envs/"+url.PathEscape(args[0])+"/policy/accept", struct{}{}, &acc)
				return err
			}, func(ws *workspace) (err error) {
				acc, err = a.policyAccept(ctx, ws, args[0])
				return err
			})
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(acc.State)
			}
			if len(acc.Weaker) > 0 {
				fmt.Fprintf(a.Out, "accepted a weaker policy for %s: %s\n", acc.State.Env, strings.Join(acc.Weaker, "; "))
			} else {
				fmt.Fprintf(a.Out, "pinned ladder.yaml's policy for %s\n", acc.State.Env)
			}
			printPolicy(a.Out, acc.State)
			return nil
		},
	}
	cmd.AddCommand(show, accept)
	return cmd
}

// policyOf is the policy pinned for the environment named env beside
// ladder.yaml's.
func policyOf(ctx context.Context, ws *workspace, env string) (promote.PolicyState, error) {
	e, err := ws.environment(env)
	if err != nil {
		return promote.PolicyState{}, err
	}
	return promote.PolicyOfStore(ctx, ws.store, e)
}

// policyAccepted is what an accept did: how ladder.yaml was weaker than
// what was pinned before (nothing when it asked for as much or more),
// and the policy now pinned.
type policyAccepted struct {
	Weaker []string            `json:"weaker"`
	State  promote.PolicyState `json:"state"`
}

// policyAccept pins ladder.yaml's policy for env, as an admin of env.
func (a *app) policyAccept(ctx context.Context, ws *workspace, env string) (policyAccepted, error) {
	e, err := ws.environment(env)
	if err != nil {
		return policyAccepted{}, err
	}
	by, err := a.actAs(ctx, ws, e.Name, auth.ActionAdmin)
	if err != nil {
		return policyAccepted{}, err
	}
	before, err := promote.PolicyOfStore(ctx, ws.store, e)
	if err != nil {
		return policyAccepted{}, err
	}
	ps, err := promote.AcceptPolicy(ctx, ws.store, e, by, time.Now().UTC())
	if err != nil {
		return policyAccepted{}, err
	}
	return policyAccepted{Weaker: nonNil(before.Weaker), State: ps}, nil
}

// policyRoutes show and accept a rung's policy for thin clients, as
// ladder policy does.
func (v *engineVerbs) policyRoutes(mux engine.Mux) {
	mux.HandleFunc("GET /v1/envs/{env}/policy", func(w http.ResponseWriter, r *http.Request) {
		env := r.PathValue("env")
		v.read(w, r, env, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			return policyOf(ctx, ws, env)
		})
	})
	mux.HandleFunc("POST /v1/envs/{env}/policy/accept", func(w http.ResponseWriter, r *http.Request) {
		env := r.PathValue("env")
		var req struct{}
		if !decodeVerb(w, r, &req) {
			return
		}
		v.run(w, r, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			if err := promote.CheckIfMatch(ctx, ws.store, env, ws.ifMatch); err != nil {
				return nil, err
			}
			acc, err := a.policyAccept(ctx, ws, env)
			if err != nil {
				return nil, err
			}
			return acc, nil
		})
	})
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
