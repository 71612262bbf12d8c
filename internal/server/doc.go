// Package server is the HTTP face of a running ladder agent: a small JSON
// API for the CLI and other tools, and a live dashboard for people.
//
// Everything it shows is tied to a snapshot ID. The API hands out the
// documents of package api and the records of package store unchanged; the
// dashboard renders the same data server-side with html/template and marks
// every element that belongs to a snapshot with its short ID and a
// data-snapshot attribute carrying the full one, so a person (or a test) can
// follow a deploy, a health change or a latency spike back to the exact
// build that caused it.
//
// The dashboard needs no JavaScript build step: templates, CSS and a few
// lines of script are embedded in the binary. The script re-fetches the
// page's main content (the same template, rendered alone with ?fragment=1)
// every second and swaps it in; without script a meta refresh does the same
// more coarsely.
//
// Routes:
//
//	GET  /healthz                    "ok"
//	GET  /api/v1/status              api.Status
//	GET  /api/v1/events              []store.Event (after, limit, snapshot, service)
//	GET  /api/v1/events/stream       Server-Sent Events of new events
//	GET  /api/v1/snapshots           []snapshot.Snapshot (limit)
//	GET  /api/v1/snapshots/{id}      snapshot.Snapshot (full ID or unique prefix)
//	GET  /api/v1/releases            []store.Release (environment, site, snapshot, limit)
//	POST /api/v1/deploy              api.DeployRequest -> api.DeployResult
//	POST /api/v1/down                202, then Source.Shutdown
//	GET  /api/v1/ladder              api.Ladder                          (*)
//	POST /api/v1/promote             api.PromoteRequest -> api.ActionResult  (*)
//	POST /api/v1/approve             api.ApproveRequest -> api.ActionResult  (*)
//	POST /api/v1/rollback            api.RollbackRequest -> api.ActionResult (*)
//	POST /api/v1/login               a one-time dashboard login link for the caller
//	GET  /login?code=                spends the code: session cookie, 303 to the ladder
//	GET  /                           dashboard (?fragment=1: main content only)
//	GET  /events                     all recent events (?fragment=1 likewise)
//	GET  /ladder                     every environment side by side (*)
//	POST /ladder/{promote,approve,rollback}
//	                                 the ladder page's forms: 303 to /ladder?ok=|error= (*)
//
// Routes marked (*) need a Source that also implements LadderSource; for
// any other they answer 404. An action a gate refuses is not an HTTP
// error: 200 with ActionResult.OK false, its Error and the promotion's
// gate results.
//
// Every POST needs a credential: a bearer token (Options.Auth checks it)
// or the dashboard's session cookie with its CSRF token. Who acts is that
// credential's principal, never a field of the request; its roles decide
// (package auth): 401 without a valid credential, 403 without the role.
// Reads are open to loopback clients and need a viewer from elsewhere.
// A Host that is not localhost, a loopback address or one of
// Options.Hosts is 421, which keeps DNS-rebinding pages out.
//
// API errors are api.Error documents. Store errors are classified with
// errors.Is: store.ErrNotFound is 404, store.ErrAmbiguous and
// store.ErrConflict are 409, malformed input is 400 and anything else 500.
// Unsafe cross-origin requests are refused (403), so a web page the user
// happens to visit cannot deploy, promote, roll back or tear down their
// stack, form posts to /ladder/* included.
//
// Environment variable values never reach this package: the api documents
// do not carry them and nothing here renders event attributes.
package server
