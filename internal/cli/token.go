package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/engine"
	"github.com/ladderhq/ladder/internal/store"
)

func newTokenCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the API tokens people and CI act with",
		Long: `Every change to a rung (deploy, promote, approve, rollback, down) is made by
the identity of a token, with the roles it was given: viewer < deployer <
promoter < approver < admin, each on one environment or on all ("*").

On a laptop, ladder makes an admin token on first use and keeps it in
.ladder/admin.token (mode 0600); the CLI and the dashboard use it unless
LADDER_TOKEN names another. Managing tokens needs admin on every
environment.`,
		Example: `  ladder token create ana --role approver:prod
  ladder token create ci --role deployer:dev --role deployer:preview --expires 720h
  ladder token list
  ladder token revoke ci`,
	}
	cmd.AddCommand(newTokenCreateCmd(a), newTokenListCmd(a), newTokenRevokeCmd(a))
	return cmd
}

// tokenCreator authorises a token's creation. A shared store without any
// token yet has no one to ask: its first token is created without a
// credential, and must be an admin on every environment, who then makes
// the others. first says the token is that one, to be recorded only while
// the store still has none (two made at once: one wins).
func (a *app) tokenCreator(ctx context.Context, ws *workspace, grants []auth.Grant) (by string, first bool, err error) {
	toks, err := ws.store.ListTokens(ctx)
	if err != nil {
		return "", false, err
	}
	if len(toks) > 0 {
		by, err := a.actAs(ctx, ws, "", auth.ActionAdmin)
		return by, false, err
	}
	if !slices.Contains(grants, auth.Grant{Role: auth.Admin, Env: auth.AnyEnv}) {
		return "", false, &ExitError{Code: ExitUnauthorized, Err: errors.New("the store has no token yet: its first one must have the admin role on every environment"), Hint: "ladder token create NAME --role admin"}
	}
	return "ladder", true, nil
}

// tokenView is how a token is shown: never its secret or its hash.
type tokenView struct {
	Name    string    `json:"name"`
	Roles   []string  `json:"roles"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	Expired bool      `json:"expired,omitempty"`
	// Token is the secret, in the answer to create only.
	Token string `json:"token,omitempty"`
}

func viewOf(t store.Token, now time.Time) tokenView {
	return tokenView{Name: t.Name, Roles: t.Grants, Created: t.Created, Expires: t.Expires, Expired: t.Expired(now)}
}

func newTokenCreateCmd(a *app) *cobra.Command {
	var roles []string
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "create NAME --role ROLE[:ENV]",
		Short: "Create a token and print its secret, once",
		Long: `create makes a token that authenticates as NAME with the given roles (ROLE
alone means ROLE on every environment) and prints its secret. The secret is
shown this once and stored only as its SHA-256: keep it, or revoke the
token and create another. Names are compared case-insensitively.

Creating a token needs admin on every environment, except the first token
of a shared store (LADDER_STORE), which has no admin yet: that one is
created without a credential and must be an admin itself.`,
		Example: `  ladder token create ana --role approver:prod
  ladder token create ci --role deployer:dev --expires 24h -o json
  LADDER_TOKEN=ldr_... ladder whoami

  # a new shared store's first admin
  LADDER_STORE=postgres://... ladder token create ops --role admin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var errs []error
			if len(roles) == 0 {
				errs = append(errs, errors.New("--role ROLE[:ENV] is required (one of "+strings.Join(auth.RoleNames(), ", ")+")"))
			}
			grants, err := auth.ParseGrants(roles)
			if err != nil {
				errs = append(errs, err)
			}
			if expires < 0 {
				errs = append(errs, fmt.Errorf("--expires %s must not be negative", expires))
			}
			if err := auth.CheckName(args[0]); err != nil {
				errs = append(errs, err)
			}
			if err := errors.Join(errs...); err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			req := tokenRequest{Name: args[0], Roles: roles, Expires: expires.String()}
			var v tokenView
			err = a.serverOr(ctx, func(c *engine.Client) error {
				_, err := a.callVerb(ctx, c, "/v1/tokens", req, &v)
				return err
			}, func(ws *workspace) (err error) {
				v, err = a.tokenCreate(ctx, ws, args[0], grants, expires)
				return err
			})
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(v)
			}
			t := v
			fmt.Fprintf(a.Out, "token %s (%s)", t.Name, strings.Join(t.Roles, ", "))
			if !t.Expires.IsZero() {
				fmt.Fprintf(a.Out, ", expires %s", t.Expires.Local().Format(time.RFC3339))
			}
			fmt.Fprintf(a.Out, ":\n\n  %s\n\nThis is the only time it is shown. Use it as LADDER_TOKEN=%s...\n", t.Token, t.Token[:min(len(t.Token), len(auth.TokenPrefix)+4)])
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&roles, "role", nil, "ROLE or ROLE:ENV (repeatable): "+strings.Join(auth.RoleNames(), ", "))
	cmd.Flags().DurationVar(&expires, "expires", 0, "how long the token is valid (e.g. 24h; default: no expiry)")
	return cmd
}

func newTokenListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tokens: names, roles and expiry (never secrets)",
		Example: `  ladder token list
  ladder token list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var views []tokenView
			err := a.serverOr(ctx, func(c *engine.Client) error {
				_, err := a.callRead(ctx, c, "/v1/tokens", &views)
				return err
			}, func(ws *workspace) (err error) {
				views, err = a.tokenList(ctx, ws)
				return err
			})
			if err != nil {
				return err
			}
			if views == nil {
				views = []tokenView{}
			}
			if a.json() {
				return a.printJSON(views)
			}
			tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLES\tCREATED\tEXPIRES")
			for _, v := range views {
				exp := "never"
				switch {
				case v.Expired:
					exp = "expired " + v.Expires.Local().Format(time.RFC3339)
				case !v.Expires.IsZero():
					exp = v.Expires.Local().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, strings.Join(v.Roles, ","), v.Created.Local().Format(time.RFC3339), exp)
			}
			return tw.Flush()
		},
	}
}

func newTokenRevokeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: it stops working at once",
		Example: `  ladder token revoke ci
  ladder token revoke ana -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			name := auth.NormalizeName(args[0])
			err := a.serverOr(ctx, func(c *engine.Client) error {
				var ans map[string]string
				_, err := a.call(ctx, c, http.MethodDelete, "/v1/tokens/"+url.PathEscape(name), nil, &ans)
				return err
			}, func(ws *workspace) error {
				return a.tokenRevoke(ctx, ws, name)
			})
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(map[string]string{"revoked": name})
			}
			fmt.Fprintf(a.Out, "revoked the token of %s\n", name)
			return nil
		},
	}
}

// serverOr runs remote against the ladder server LADDER_SERVER names,
// otherwise local on this machine's project and store.
func (a *app) serverOr(ctx context.Context, remote func(*engine.Client) error, local func(*workspace) error) error {
	if os.Getenv(EnvServer) != "" {
		c, err := a.thinClient(ctx)
		if err != nil {
			return err
		}
		return remote(c)
	}
	ws, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer ws.Close()
	return local(ws)
}

// tokenRequest asks a ladder server for a token (POST /v1/tokens).
type tokenRequest struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// Expires is a Go duration ("720h"); "0s" or empty: no expiry.
	Expires string `json:"expires,omitempty"`
}

// tokenCreate makes a token as the principal of ws (an admin on every
// environment; for a store without tokens, the first admin) and returns
// it with its secret.
func (a *app) tokenCreate(ctx context.Context, ws *workspace, name string, grants []auth.Grant, expires time.Duration) (tokenView, error) {
	by, first, err := a.tokenCreator(ctx, ws, grants)
	if err != nil {
		return tokenView{}, err
	}
	now := time.Now()
	newToken := auth.NewToken
	if first {
		newToken = auth.NewFirstToken
	}
	secret, t, err := newToken(ctx, ws.store, name, grants, expires, now)
	if first && errors.Is(err, store.ErrConflict) {
		return tokenView{}, &ExitError{Code: ExitUnauthorized, Err: errors.New("another first token was created meanwhile: only an admin creates more"), Hint: credentialHint}
	}
	if errors.Is(err, store.ErrConflict) {
		return tokenView{}, &ExitError{Code: ExitConfig, Err: fmt.Errorf("a token named %s exists", auth.NormalizeName(name)), Hint: "ladder token revoke " + auth.NormalizeName(name)}
	}
	if err != nil {
		return tokenView{}, err
	}
	a.auditToken(ctx, ws, by, "token.create", t.Name, strings.Join(t.Grants, ","))
	v := viewOf(t, now)
	v.Token = secret
	return v, nil
}

// tokenList lists the tokens, for an admin on every environment.
func (a *app) tokenList(ctx context.Context, ws *workspace) ([]tokenView, error) {
	if _, err := a.actAs(ctx, ws, "", auth.ActionAdmin); err != nil {
		return nil, err
	}
	toks, err := ws.store.ListTokens(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	views := make([]tokenView, 0, len(toks))
	for _, t := range toks {
		views = append(views, viewOf(t, now))
	}
	return views, nil
}

// tokenRevoke revokes the token of name (normalised), for an admin on
// every environment.
func (a *app) tokenRevoke(ctx context.Context, ws *workspace, name string) error {
	by, err := a.actAs(ctx, ws, "", auth.ActionAdmin)
	if err != nil {
		return err
	}
	if err := ws.store.RevokeToken(ctx, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return &ExitError{Code: ExitNotRunning, Err: fmt.Errorf("no token named %s", name), Hint: "ladder token list"}
		}
		return err
	}
	a.auditToken(ctx, ws, by, "token.revoke", name, "")
	return nil
}

// tokenRoutes manage tokens for thin clients, as ladder token does, for
// an admin on every environment.
func (v *engineVerbs) tokenRoutes(mux engine.Mux) {
	mux.HandleFunc("POST /v1/tokens", func(w http.ResponseWriter, r *http.Request) {
		var req tokenRequest
		if !decodeVerb(w, r, &req) {
			return
		}
		grants, gerr := auth.ParseGrants(req.Roles)
		var expires time.Duration
		var derr error
		if req.Expires != "" {
			expires, derr = time.ParseDuration(req.Expires)
		}
		v.run(w, r, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			var errs []error
			if len(req.Roles) == 0 {
				errs = append(errs, errors.New("roles: at least one ROLE[:ENV] is required"))
			}
			if derr != nil || expires < 0 {
				errs = append(errs, fmt.Errorf("expires: want a duration of 0 or more, not %q", req.Expires))
			}
			if err := auth.CheckName(req.Name); err != nil {
				errs = append(errs, err)
			}
			if err := errors.Join(append(errs, gerr)...); err != nil {
				return nil, &ExitError{Code: ExitConfig, Err: err}
			}
			return a.tokenCreate(ctx, ws, req.Name, grants, expires)
		})
	})
	mux.HandleFunc("GET /v1/tokens", func(w http.ResponseWriter, r *http.Request) {
		v.read(w, r, "", func(ctx context.Context, a *app, ws *workspace) (any, error) {
			return a.tokenList(ctx, ws)
		})
	})
	mux.HandleFunc("DELETE /v1/tokens/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := auth.NormalizeName(r.PathValue("name"))
		v.run(w, r, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			if err := a.tokenRevoke(ctx, ws, name); err != nil {
				return nil, err
			}
			return map[string]string{"revoked": name}, nil
		})
	})
}

func (a *app) auditToken(ctx context.Context, ws *workspace, by, action, name, detail string) {
	if _, err := ws.store.Audit(ctx, store.AuditEntry{Actor: by, Action: action, Outcome: name, Detail: detail}); err != nil {
		a.logger().Warn("audit", "action", action, "err", err)
	}
}

// whoami is what `ladder whoami` prints.
type whoami struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// Source says where the credential came from: LADDER_TOKEN or the
	// local token file.
	Source string `json:"source"`
}

func newWhoamiCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who this machine's credential acts as, and its roles",
		Long: `whoami authenticates the credential ladder would use (LADDER_TOKEN, else
.ladder/admin.token) and prints its identity and roles. Exit code 8 when
it is missing, unknown, revoked or expired.`,
		Example: `  ladder whoami
  LADDER_TOKEN=ldr_... ladder whoami -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			p, err := a.principal(ctx, ws)
			if err != nil {
				return err
			}
			w := whoami{Name: p.Name, Roles: auth.GrantStrings(p.Grants), Source: auth.LocalTokenPath(ws.stateDir)}
			if auth.CredentialFromEnv() {
				w.Source = auth.EnvToken
			}
			if a.json() {
				return a.printJSON(w)
			}
			fmt.Fprintf(a.Out, "%s (%s; from %s)\n", w.Name, strings.Join(w.Roles, ", "), w.Source)
			return nil
		},
	}
}

// dashboardLogin is what `ladder dashboard -o json` prints.
type dashboardLogin struct {
	Environment string    `json:"environment"`
	URL         string    `json:"url"`
	Expires     time.Time `json:"expires"`
}

func newDashboardCmd(a *app) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Print a one-time link that logs the browser in to an environment's dashboard",
		Long: `dashboard asks the running agent of an environment for a login link that
opens a dashboard session as your identity (your token's), once, within two
minutes. The dashboard's buttons then act as you, with your roles; without
a session the dashboard is read only.`,
		Example: `  ladder dashboard
  ladder dashboard --env staging
  LADDER_TOKEN=ldr_... ladder dashboard -o json`,
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
			c, ok := agent.Find(ctx, ws.stateDir, e.Name)
			if !ok {
				return &ExitError{Code: ExitNotRunning, Err: fmt.Errorf("no agent runs %s", e.Name), Hint: "ladder up -d --env " + e.Name}
			}
			url, exp, err := c.Login(ctx)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printJSON(dashboardLogin{Environment: e.Name, URL: url, Expires: exp})
			}
			fmt.Fprintf(a.Out, "open this link within %s (it works once):\n\n  %s\n", time.Until(exp).Round(time.Second), url)
			return nil
		},
	}
	cmd.Flags().StringVarP(&env, "env", "e", "", "environment whose dashboard to open (default: the first rung)")
	return cmd
}
