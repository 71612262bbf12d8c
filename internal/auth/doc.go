// Package auth says who is asking and what they may do.
//
// A Principal is a normalised name with grants: a role on an environment
// ("approver:prod") or on every environment ("admin:*"). Roles are
// ordered, viewer < deployer < promoter < approver < admin, and each holds
// the rights of those below it. Allowed is the one decision every way of
// changing a rung asks: the HTTP API, the dashboard and the CLI.
//
// An Authenticator turns a credential into a Principal. TokenAuthenticator
// does it with bearer tokens kept in the store: random, prefixed "ldr_",
// shown once when created and stored only as their SHA-256. An OIDC
// authenticator can sit behind the same interface later.
//
// Errors are classified here (ErrUnauthenticated, ErrForbidden) and
// mapped to HTTP statuses and exit codes at the edges.
package auth
