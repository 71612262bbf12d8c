package store

import (
	"context"
	"time"
)

// LadderStore records what moves a snapshot up the ladder: promotions and
// their gate results, approvals, known-good releases, jobs (migrations and
// seeds) per environment and the audit trail. Every Store implements it.
type LadderStore interface {
	// CreatePromotion records a new promotion request (ID set on return).
	CreatePromotion(ctx context.Context, p Promotion) (Promotion, error)
	// UpdatePromotion changes a promotion's phase and reason; moving a
	// terminal promotion is ErrConflict.
	UpdatePromotion(ctx context.Context, id int64, phase PromotionPhase, reason string, at time.Time) error
	GetPromotion(ctx context.Context, id int64) (Promotion, error)
	// ListPromotions returns promotions matching f, newest first.
	ListPromotions(ctx context.Context, f PromotionFilter) ([]Promotion, error)
	// AddGateResult records one gate's verdict for a promotion.
	AddGateResult(ctx context.Context, g GateResult) error
	// GateResults returns a promotion's gate results in the order recorded.
	GateResults(ctx context.Context, promotion int64) ([]GateResult, error)

	// AddApproval records that By approves snapshot for env; a second
	// approval by the same identity is ErrConflict.
	AddApproval(ctx context.Context, a Approval) error
	// Approvals lists the approvals of snapshot for env, oldest first.
	Approvals(ctx context.Context, snapshot, env string) ([]Approval, error)

	// MarkKnownGood flags a succeeded release as known-good (it passed
	// health and soak); a release that did not succeed is ErrConflict.
	MarkKnownGood(ctx context.Context, release int64, at time.Time) error
	// RecordVerdict keeps why a release is, or is not, known-good, once
	// it was judged (Release.Verdict). The first verdict stays: recording
	// another is a no-op. An unknown release is ErrNotFound.
	RecordVerdict(ctx context.Context, release int64, verdict string) error

	// RecordJob records one run of a job (a migration or seed) on a site.
	RecordJob(ctx context.Context, j JobRun) error
	// ListJobs returns the job runs of env (all when empty), newest first.
	ListJobs(ctx context.Context, env string, limit int) ([]JobRun, error)

	// Audit appends an audit entry (ID and Time set on return).
	Audit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// ListAudit returns entries matching f, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// PromotionPhase is where a promotion is.
type PromotionPhase string

// Promotion phases.
const (
	PromotionPending   PromotionPhase = "pending"   // gates not all passed yet (e.g. awaiting approvals)
	PromotionRunning   PromotionPhase = "promoting" // gates passed; deploying
	PromotionSucceeded PromotionPhase = "succeeded"
	PromotionFailed    PromotionPhase = "failed"  // the deploy failed
	PromotionBlocked   PromotionPhase = "blocked" // a gate failed
)

// Known reports whether p is one of the phases above.
func (p PromotionPhase) Known() bool {
	switch p {
	case PromotionPending, PromotionRunning, PromotionSucceeded, PromotionFailed, PromotionBlocked:
		return true
	}
	return false
}

// IsTerminal reports whether the promotion can no longer change.
func (p PromotionPhase) IsTerminal() bool {
	return p == PromotionSucceeded || p == PromotionFailed || p == PromotionBlocked
}

// Promotion is a request to move a snapshot to an environment.
type Promotion struct {
	ID       int64          `json:"id"`
	Snapshot string         `json:"snapshot"`
	From     string         `json:"from"`
	To       string         `json:"to"`
	Phase    PromotionPhase `json:"phase"`
	Reason   string         `json:"reason,omitempty"`
	By       string         `json:"by"`
	Why      string         `json:"why,omitempty"`
	Created  time.Time      `json:"created"`
	Updated  time.Time      `json:"updated"`
}

// PromotionFilter selects promotions; zero fields match everything.
type PromotionFilter struct {
	Snapshot, To string
	Phase        PromotionPhase
	Limit        int
}

// GateResult is one gate's verdict.
type GateResult struct {
	Promotion int64     `json:"promotion"`
	Gate      string    `json:"gate"`
	Passed    bool      `json:"passed"`
	Reason    string    `json:"reason"`
	At        time.Time `json:"at"`
}

// Approval is one identity's approval of a snapshot for an environment.
type Approval struct {
	Snapshot string    `json:"snapshot"`
	Env      string    `json:"environment"`
	By       string    `json:"by"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
}

// JobRun is one run of a job service (migration, seed) on a site.
type JobRun struct {
	Env      string    `json:"environment"`
	Site     string    `json:"site"`
	Job      string    `json:"job"`
	Snapshot string    `json:"snapshot"`
	Digest   string    `json:"digest"`
	Outcome  string    `json:"outcome"` // "succeeded" or "failed"
	At       time.Time `json:"at"`
}

// AuditEntry is who did what, when and why.
type AuditEntry struct {
	ID       int64     `json:"id"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"` // deploy, promote, approve, gate, rollback, lock
	Env      string    `json:"environment,omitempty"`
	Site     string    `json:"site,omitempty"`
	Snapshot string    `json:"snapshot,omitempty"`
	Outcome  string    `json:"outcome,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	Env, Snapshot, Action, Actor string
	// BeforeID, when set, selects entries with a smaller ID: the next
	// (older) page after one that ended at BeforeID.
	BeforeID int64
	Limit    int
}
