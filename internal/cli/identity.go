package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/store"
	storeopen "github.com/ladderhq/ladder/internal/store/open"
)

// Who runs a command comes from its credential alone: LADDER_TOKEN when
// set, else the local admin token in the state directory. There is no
// flag or variable that names an identity.

const credentialHint = "set LADDER_TOKEN to a token from `ladder token create` (or, on this machine's own store, remove LADDER_TOKEN to use .ladder/admin.token)"

// ensureLocalToken creates the laptop's admin token on first use. A
// shared store (LADDER_STORE) gets none: its tokens are made by its
// admins, and every client brings one.
func (w *workspace) ensureLocalToken(ctx context.Context) error {
	if os.Getenv(storeopen.EnvVar) != "" {
		return nil
	}
	return auth.EnsureLocalToken(ctx, w.store, w.stateDir)
}

// principal authenticates the credential this command acts with.
func (a *app) principal(ctx context.Context, ws *workspace) (auth.Principal, error) {
	if ws.who != nil {
		return *ws.who, nil
	}
	cred := auth.Credential(ws.stateDir)
	if cred == "" && ws.tokenErr != nil {
		return auth.Principal{}, fmt.Errorf("the local admin token: %w", ws.tokenErr)
	}
	if cred == "" {
		return auth.Principal{}, &ExitError{Code: ExitUnauthorized, Err: errors.Join(errors.New("no credential"), auth.ErrUnauthenticated), Hint: credentialHint}
	}
	p, err := (&auth.TokenAuthenticator{Store: ws.store}).Authenticate(ctx, cred)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			return auth.Principal{}, &ExitError{Code: ExitUnauthorized, Err: err, Hint: credentialHint}
		}
		return auth.Principal{}, err
	}
	ws.who = &p
	return p, nil
}

// actAs authenticates the command's credential and authorises action on
// env, returning the name to record.
func (a *app) actAs(ctx context.Context, ws *workspace, env string, action auth.Action) (string, error) {
	p, err := a.principal(ctx, ws)
	if err != nil {
		return "", err
	}
	if err := auth.Authorize(p, env, action); err != nil {
		if _, aerr := ws.store.Audit(ctx, store.AuditEntry{Actor: p.Name, Action: string(action), Env: env, Outcome: "denied", Detail: err.Error()}); aerr != nil {
			a.logger().Warn("audit", "action", action, "err", aerr)
		}
		return "", &ExitError{Code: ExitUnauthorized, Err: err, Hint: "an admin grants roles: ladder token create NAME --role ROLE:ENV"}
	}
	return p.Name, nil
}
