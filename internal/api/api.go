package api

import (
	"time"

	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/store"
)

// Version of the API documents; bumped on incompatible change.
const Version = "v1"

// Status describes an environment as a running ladder agent sees it.
type Status struct {
	// Project is the project directory.
	Project     string       `json:"project"`
	Stack       string       `json:"stack"`
	Environment string       `json:"environment"`
	Target      string       `json:"target"`
	Agent       Agent        `json:"agent"`
	Sites       []SiteStatus `json:"sites"`
	// Events are the most recent events of the environment, oldest first.
	Events []store.Event `json:"events"`
	// StoreLost is set when the agent found its store's file deleted,
	// replaced or damaged: it records nothing more, and says why here.
	StoreLost string `json:"storeLost,omitempty"`
}

// Agent is the ladder process serving the environment.
type Agent struct {
	PID     int       `json:"pid"`
	URL     string    `json:"url"`
	Started time.Time `json:"started"`
}

// SiteStatus is one site of the environment.
type SiteStatus struct {
	Site string `json:"site"`
	// Snapshot is the snapshot the site runs (the last successful
	// release's), empty before the first one.
	Snapshot string `json:"snapshot"`
	// Release is the site's latest release, whatever its outcome.
	Release  *store.Release  `json:"release,omitempty"`
	Services []ServiceStatus `json:"services"`
	// Drift is set when what the site runs differs from its last release.
	Drift *drift.Report `json:"drift,omitempty"`
	// Runtime says how to reach the site with the runtime's own tools
	// (for the compose target: project, composeFile and a hint).
	Runtime map[string]string `json:"runtime,omitempty"`
}

// ServiceStatus is one service on a site.
type ServiceStatus struct {
	Name     string `json:"name"`
	Snapshot string `json:"snapshot"`
	Digest   string `json:"digest"`
	// Health sums up the instances: "healthy" when all are, "unhealthy"
	// when any is, "starting" otherwise; "running" for services with no
	// health check, "stopped" when none runs.
	Health string `json:"health"`
	// Runs says where the process target runs the service: "native" (a
	// local process) or "engine" (a container); empty on other targets.
	Runs      string          `json:"runs,omitempty"`
	Endpoints []string        `json:"endpoints,omitempty"`
	Instances []plan.Instance `json:"instances"`
	// Telemetry sums up the last 10 seconds; History holds the recent
	// samples, oldest
	// first. Both are empty for services that are not scraped.
	Telemetry *store.Sample  `json:"telemetry,omitempty"`
	History   []store.Sample `json:"history,omitempty"`
}

// DeployRequest asks a running agent to deploy a snapshot.
type DeployRequest struct {
	// Snapshot is a snapshot ID or a unique prefix of one.
	Snapshot string `json:"snapshot"`
	// HealthTimeout, a Go duration ("90s"), overrides the environment's
	// health.timeout for this deploy.
	HealthTimeout string `json:"healthTimeout,omitempty"`
	// By is who asks (recorded with the release): set by the agent from
	// the request's credential, never read from the body.
	By string `json:"-"`
	// Grant is the token of the grant a promotion or rollback issued for
	// this snapshot on this rung. A gated rung (protected, signed,
	// approvals, soak or tests) refuses a snapshot without a valid one
	// unless it is known-good there (409).
	Grant string `json:"grant,omitempty"`
}

// DeployResult is what a deploy did.
type DeployResult struct {
	Environment string `json:"environment"`
	Site        string `json:"site"`
	Snapshot    string `json:"snapshot"`
	// Release is 0 when nothing needed doing.
	Release int64 `json:"release"`
	// Number is the release's number within its environment (1, 2, ...);
	// Release is its ID, global across environments.
	Number int64 `json:"number,omitempty"`
	// Changed lists the services whose instances were started or stopped.
	Changed []string `json:"changed"`
	// Plan is the plan's text form.
	Plan     string        `json:"plan"`
	Duration time.Duration `json:"duration"`
	// Error is set when the release failed; the previous one still runs.
	Error string `json:"error,omitempty"`
	// LastLines of the failing instance's output, when one is to blame.
	LastLines []string `json:"lastLines,omitempty"`
}

// Error is the body of every API error answer.
type Error struct {
	Error string `json:"error"`
	Hint  string `json:"hint,omitempty"`
	// Code classifies the error where a client acts on it: CodeNotAdmitted.
	Code string `json:"code,omitempty"`
}

// CodeNotAdmitted is a rung refusing a snapshot (HTTP 409): no valid grant
// and not known-good there, a signature no trusted key verifies, or a
// weakened gate policy.
const CodeNotAdmitted = "not_admitted"
