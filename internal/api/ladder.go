package api

import (
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// Ladder is every environment of the stack side by side: what runs where,
// healthy or not, pending promotions with their gates, and history.
type Ladder struct {
	Stack        string      `json:"stack"`
	Environments []LadderEnv `json:"environments"`
	// Snapshots are the most recent snapshots, newest first.
	Snapshots []SnapshotSummary `json:"snapshots"`
	Generated time.Time         `json:"generated"`
}

// LadderEnv is one rung.
type LadderEnv struct {
	Name      string `json:"name"`
	From      string `json:"from,omitempty"`
	Target    string `json:"target"`
	Protected bool   `json:"protected,omitempty"`
	Template  bool   `json:"template,omitempty"`
	// Gates describes the gates a promotion here passes, for people
	// ("soak 10s", "2 approvals", "signed", "test smoke").
	Gates []string `json:"gates,omitempty"`
	// Running is true when an agent serves the environment; AgentURL is
	// its dashboard.
	Running  bool         `json:"running"`
	AgentURL string       `json:"agentUrl,omitempty"`
	Sites    []LadderSite `json:"sites"`
	// Promotions are the recent promotions to the environment, newest
	// first, each with its gate results.
	Promotions []PromotionView `json:"promotions,omitempty"`
	// History holds the recent releases, newest first.
	History []store.Release `json:"history,omitempty"`
	// RollbackTo is the snapshot a rollback would return the rung to (its
	// newest known-good release of another snapshot than it runs); empty
	// when there is nothing to roll back to.
	RollbackTo string `json:"rollbackTo,omitempty"`
	// ETag is the environment's entity tag: send it as If-Match with a
	// promotion, approval or rollback of it to act only on what was read.
	ETag string `json:"etag,omitempty"`
}

// LadderSite is one site of a rung.
type LadderSite struct {
	Site     string `json:"site"`
	Snapshot string `json:"snapshot,omitempty"`
	// Health sums the site's services up: healthy, unhealthy, starting,
	// drifted, or unknown when no agent runs it.
	Health  string         `json:"health"`
	Release *store.Release `json:"release,omitempty"`
	// Telemetry sums up the site's request rate and error rate.
	RequestRate float64 `json:"requestRate"`
	ErrorRate   float64 `json:"errorRate"`
}

// PromotionView is a promotion with its gate results.
type PromotionView struct {
	store.Promotion
	Gates []store.GateResult `json:"gates"`
}

// SnapshotSummary is a snapshot and where it runs.
type SnapshotSummary struct {
	ID       string    `json:"id"`
	Created  time.Time `json:"created"`
	Revision string    `json:"revision,omitempty"`
	Services int       `json:"services"`
	// Running lists env/site where it is the current release.
	Running []string `json:"running"`
}

// PromoteRequest asks to promote a snapshot.
type PromoteRequest struct {
	Snapshot string `json:"snapshot"`
	To       string `json:"to"`
	// By is who asks: set from the request's credential, never read
	// from the body.
	By  string `json:"-"`
	Why string `json:"why,omitempty"`
}

// ApproveRequest approves a snapshot for an environment.
type ApproveRequest struct {
	Snapshot string `json:"snapshot"`
	Env      string `json:"environment"`
	// By is who approves: set from the request's credential, never read
	// from the body.
	By      string `json:"-"`
	Comment string `json:"comment,omitempty"`
}

// RollbackRequest rolls an environment back.
type RollbackRequest struct {
	Env string `json:"environment"`
	// To is a snapshot; empty means the last known-good.
	To string `json:"to,omitempty"`
	// By is who asks: set from the request's credential, never read
	// from the body.
	By  string `json:"-"`
	Why string `json:"why,omitempty"`
}

// ActionResult is the answer to a promote, approve or rollback: what was
// done, or why not (Error), with the promotion's gates when there are.
type ActionResult struct {
	OK        bool           `json:"ok"`
	Message   string         `json:"message"`
	Error     string         `json:"error,omitempty"`
	Promotion *PromotionView `json:"promotion,omitempty"`
	Deploy    *DeployResult  `json:"deploy,omitempty"`
}
