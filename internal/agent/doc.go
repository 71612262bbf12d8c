// Package agent is the long-running ladder process behind an environment:
// it owns the environment's target (and so its supervised instances),
// scrapes telemetry, serves the dashboard and API, and makes the releases
// that `ladder up` asks for. `ladder up` runs one in the foreground; `-d`
// starts one detached, and later commands talk to it over HTTP, with the
// bearer token of whoever runs them (Client.Token, or the credential a
// request it serves carries on to other agents).
package agent
