package store

import (
	"context"
	"errors"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// Errors every implementation returns (wrapped is fine; callers use errors.Is).
var (
	// ErrNotFound: no record matches.
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous: an ID prefix matches more than one record.
	ErrAmbiguous = errors.New("ambiguous ID prefix")
	// ErrConflict: a write would contradict an existing record (for example
	// a snapshot ID stored with different content).
	ErrConflict = errors.New("conflicting record")
	// ErrLocked: a lock is held by another live owner.
	ErrLocked = errors.New("locked")
	// ErrLost: the store is not the one the project's history was kept in
	// any more: its file was deleted, replaced or emptied. Nothing may be
	// read from it as if it were the history, nor written to it.
	ErrLost = errors.New("store lost")
	// ErrDamaged: the store's file is damaged (not a database, or a
	// malformed one).
	ErrDamaged = errors.New("store damaged")
)

// Store is ladder's durable record. Implementations are safe for concurrent
// use by several goroutines and by several processes sharing the same
// database.
type Store interface {
	// PutSnapshot records s. Storing a snapshot whose ID is already known is
	// a no-op that returns created=false (the first record, with its
	// revision and time, is kept); storing different content under a known
	// ID is ErrConflict.
	PutSnapshot(ctx context.Context, s *snapshot.Snapshot) (created bool, err error)
	// GetSnapshot finds a snapshot by full ID or unique prefix (at least 4
	// hex digits): ErrNotFound or ErrAmbiguous otherwise.
	GetSnapshot(ctx context.Context, idOrPrefix string) (*snapshot.Snapshot, error)
	// ListSnapshots returns the snapshots f selects, newest first (the
	// newest Created, the greater ID breaking ties). An f.Before that
	// names no snapshot is ErrNotFound.
	ListSnapshots(ctx context.Context, f SnapshotFilter) ([]*snapshot.Snapshot, error)
	// CollectSnapshots deletes the snapshots of stack beyond its newest
	// keep that nothing outside the throwaway environment env refers to
	// (no release of another environment, no promotion, approval or
	// recorded instance), together with env's releases of them, and
	// returns their IDs. It is for the snapshots `up --watch` makes on
	// every save; what reached another rung is never collected.
	CollectSnapshots(ctx context.Context, stack, env string, keep int) ([]string, error)

	// PutArtifact records a built artifact; idempotent per (service, inputs).
	PutArtifact(ctx context.Context, a snapshot.Artifact) error
	// LookupArtifact returns the artifact last built for service from the
	// given inputs hash, or ErrNotFound.
	LookupArtifact(ctx context.Context, service, inputs string) (snapshot.Artifact, error)

	// CreateRelease records a new release and returns it with its ID set.
	CreateRelease(ctx context.Context, r Release) (Release, error)
	// FinishRelease moves a release to a terminal phase from whatever
	// non-terminal phase it is in (recorded as AdvanceRelease records).
	// Finishing a release that is already terminal is ErrConflict.
	FinishRelease(ctx context.Context, id int64, phase Phase, reason string, at time.Time) error
	// AdvanceRelease moves a release from phase from to phase to, as one
	// compare-and-set: if the release is no longer in from (another
	// process moved it first) it is ErrConflict and nothing changes. Each
	// change is recorded as a ReleaseTransition; a terminal to also sets
	// Finished and Reason. Moves that from.CanMove(to) refuses are refused.
	AdvanceRelease(ctx context.Context, id int64, from, to Phase, reason string, at time.Time) error
	// ReleaseTransitions returns a release's phase changes, oldest first.
	ReleaseTransitions(ctx context.Context, id int64) ([]ReleaseTransition, error)
	// GetRelease returns one release by ID.
	GetRelease(ctx context.Context, id int64) (Release, error)
	// ListReleases returns releases matching f, newest first.
	ListReleases(ctx context.Context, f ReleaseFilter) ([]Release, error)
	// SiteHeads returns where each site of env stands, ordered by site:
	// for every site with a release, its newest release and the snapshot
	// of its newest succeeded one. It is one answer for a whole fleet,
	// where ListReleases would take two per site.
	SiteHeads(ctx context.Context, env string) ([]SiteHead, error)
	// Running returns what every site of every environment runs: the
	// snapshot of its newest succeeded release and the target it ran on,
	// ordered by environment and site. Sites with no succeeded release
	// are left out.
	Running(ctx context.Context) ([]SiteSnapshot, error)

	// AppendEvent records e and returns it with ID (monotonic) and Time set
	// (Time is kept if already set).
	AppendEvent(ctx context.Context, e Event) (Event, error)
	// ListEvents returns events matching f, oldest first when AfterID is
	// set (for tailing), otherwise the newest Limit events in ascending order.
	ListEvents(ctx context.Context, f EventFilter) ([]Event, error)

	// PutInstance records or replaces a supervised instance (keyed by
	// Env, Site, Service, Slot).
	PutInstance(ctx context.Context, in Instance) error
	// DeleteInstance forgets one instance; deleting an unknown one is not an error.
	DeleteInstance(ctx context.Context, env, site, service, slot string) error
	// ListInstances returns the instances recorded for env/site (both may be
	// empty to mean all), ordered by service then slot.
	ListInstances(ctx context.Context, env, site string) ([]Instance, error)

	// AppendSamples records telemetry samples.
	AppendSamples(ctx context.Context, samples []Sample) error
	// ListSamples returns samples matching f, oldest first.
	ListSamples(ctx context.Context, f SampleFilter) ([]Sample, error)

	// Prune applies r as of now: raw samples older than r.RawSamples are
	// folded into one sample per r.SampleBucket (per environment, site,
	// snapshot and service), folded samples older than r.Samples, events
	// older than r.Events and audit entries older than r.Audit are deleted
	// (a zero duration keeps them forever). now is a parameter so that
	// retention can be tested with a simulated clock.
	Prune(ctx context.Context, r Retention, now time.Time) (Pruned, error)

	LadderStore
	Leases
	GateStore
	Tokens

	// Close releases the store's resources.
	Close() error
}

// Phase is where a release is in its life.
type Phase string

// Release phases.
const (
	PhaseProgressing Phase = "progressing"
	PhaseSucceeded   Phase = "succeeded"
	PhaseFailed      Phase = "failed"
	// PhaseInterrupted: the process making the release died before it
	// finished; the next ladder command found it and closed it.
	PhaseInterrupted Phase = "interrupted"
)

// IsTerminal reports whether no further change of phase can happen.
func (p Phase) IsTerminal() bool {
	return p == PhaseSucceeded || p == PhaseFailed || p == PhaseInterrupted
}

// CanMove reports whether a release may go from p to next: only a
// progressing release moves, and only to a terminal phase.
func (p Phase) CanMove(next Phase) bool {
	return p == PhaseProgressing && next.IsTerminal()
}

// ReleaseTransition is one recorded change of a release's phase.
type ReleaseTransition struct {
	Release int64     `json:"release"`
	Seq     int64     `json:"seq"`
	From    Phase     `json:"from"`
	To      Phase     `json:"to"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// Release is snapshot X deployed to site S of environment E.
type Release struct {
	ID int64 `json:"id"`
	// Number counts the releases of Env: 1, 2, 3, ... (IDs are global
	// across environments).
	Number   int64     `json:"number"`
	Env      string    `json:"environment"`
	Site     string    `json:"site"`
	Snapshot string    `json:"snapshot"`
	Phase    Phase     `json:"phase"`
	Reason   string    `json:"reason,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	// Owner is the holder (store.Holder.String) of the deploy lease of
	// the site while the release was made: a release still progressing
	// whose site's lease has expired was orphaned by a holder that died.
	Owner string `json:"owner,omitempty"`
	// KnownGood is set once the release passed health (and soak, where
	// the environment has one): a rollback target.
	KnownGood bool `json:"knownGood,omitempty"`
	// By is who asked for the release (for the audit trail).
	By string `json:"by,omitempty"`
	// Target is the kind of runtime the release ran on (process,
	// compose, ...): later commands about the site use the same one
	// instead of guessing again. Empty for releases recorded before
	// ladder kept it.
	Target string `json:"target,omitempty"`
	// Engine is the Docker engine the release ran on (its host, such as
	// unix:///var/run/docker.sock or tcp://10.0.0.5:2376), for a target
	// that uses one; empty otherwise, and for releases recorded before
	// ladder kept it.
	Engine string `json:"engine,omitempty"`
	// Verdict is why the release is, or is not, known-good, once it was
	// judged (after its soak); empty before. `ladder history` shows it.
	Verdict string `json:"-"`
	// SecretFingerprints are keyed fingerprints (see package secrets) of
	// the secret values the release injected, by "service/VARIABLE", so
	// that drift can compare secrets without loading or showing them.
	// They are never printed, hence no JSON name.
	SecretFingerprints map[string]string `json:"-"`
}

// SiteHead is where one site of an environment stands.
type SiteHead struct {
	Site string
	// Latest is the site's newest release, in whatever phase.
	Latest Release
	// Current is the snapshot of the site's newest succeeded release:
	// what runs there when nothing is under way. Empty when no release
	// of the site succeeded.
	Current string
}

// SiteSnapshot is the snapshot one site of an environment runs, and the
// target its release ran it on (Release.Target).
type SiteSnapshot struct {
	Env, Site, Snapshot string
	Target              string
}

// ReleaseFilter selects releases; zero fields match everything.
type ReleaseFilter struct {
	Env, Site, Snapshot string
	Phase               Phase
	// KnownGood selects only known-good releases.
	KnownGood bool
	// BeforeID, when set, selects releases with a smaller ID: the next
	// (older) page after one that ended at BeforeID.
	BeforeID int64
	Limit    int
}

// SnapshotFilter selects a page of snapshots: at most Limit (<= 0: all)
// that come after the snapshot Before in newest-first order (""
// starts from the newest). Before takes the full ID of the last snapshot
// of the page before, so pages stay put while snapshots are added.
type SnapshotFilter struct {
	Limit  int
	Before string
}

// EventKind names what happened.
type EventKind string

// Event kinds.
const (
	EventBuilt           EventKind = "artifact.built"
	EventSnapshotCreated EventKind = "snapshot.created"
	EventDeployStarted   EventKind = "deploy.started"
	EventDeploySucceeded EventKind = "deploy.succeeded"
	EventDeployFailed    EventKind = "deploy.failed"
	EventDeployRecovered EventKind = "deploy.interrupted"
	EventHealthChanged   EventKind = "health.changed"
	EventRestarted       EventKind = "process.restarted"
	EventInstanceStarted EventKind = "instance.started"
	EventInstanceStopped EventKind = "instance.stopped"
	EventStackDown       EventKind = "stack.down"
	EventDrift           EventKind = "drift.detected"
)

// Event is anything that happened. It always carries the snapshot ID,
// environment and site it concerns (empty only where none applies yet, as
// for a build before its snapshot exists).
type Event struct {
	ID       int64             `json:"id"`
	Time     time.Time         `json:"time"`
	Kind     EventKind         `json:"kind"`
	Env      string            `json:"environment"`
	Site     string            `json:"site"`
	Snapshot string            `json:"snapshot"`
	Service  string            `json:"service,omitempty"`
	Message  string            `json:"message"`
	Attrs    map[string]string `json:"attrs,omitempty"`
}

// EventFilter selects events; zero fields match everything.
type EventFilter struct {
	Env, Site, Snapshot, Service string
	Kind                         EventKind
	AfterID                      int64
	// BeforeID, when set, selects events with a smaller ID: the page of
	// older events before one that began at BeforeID. It is ignored
	// when AfterID is set.
	BeforeID int64
	Limit    int
}

// Instance is one supervised replica of a service on a site, recorded so
// that a later ladder process can find what an earlier one started.
type Instance struct {
	Env      string    `json:"environment"`
	Site     string    `json:"site"`
	Service  string    `json:"service"`
	Slot     string    `json:"slot"`
	Snapshot string    `json:"snapshot"`
	Digest   string    `json:"digest"`
	Config   string    `json:"config"`
	PID      int       `json:"pid"`
	Port     int       `json:"port"`
	Owner    string    `json:"owner"`
	Started  time.Time `json:"started"`
}

// Sample is one telemetry reading of a service on a site for a snapshot,
// computed from two successive scrapes.
type Sample struct {
	Time     time.Time `json:"time"`
	Env      string    `json:"environment"`
	Site     string    `json:"site"`
	Snapshot string    `json:"snapshot"`
	Service  string    `json:"service"`
	// RequestRate is requests per second.
	RequestRate float64 `json:"requestRate"`
	// ErrorRate is the fraction (0..1) of requests answered 5xx.
	ErrorRate float64 `json:"errorRate"`
	// P50 and P95 are latency quantiles in seconds (NaN-free: 0 when there
	// were no requests).
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	// Span is zero for a sample as scraped; for one that retention folded
	// from older samples, the length of the bucket it stands for (Time is
	// the bucket's start).
	Span time.Duration `json:"span,omitempty"`
}

// SampleFilter selects samples; zero fields match everything.
type SampleFilter struct {
	Env, Site, Snapshot, Service string
	Since                        time.Time
	Limit                        int
}
