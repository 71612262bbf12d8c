package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// Deployer deploys a snapshot to every site of an environment and waits
// for the outcome (through the environment's agent). grant is the token
// of the grant the promotion or rollback issued once its checks passed:
// the rung's admission consumes it (see Admitter).
type Deployer func(ctx context.Context, env, snapshotID, by, grant string) (*api.DeployResult, error)

// Endpoints returns, for the first site of an environment, one variable
// per published service: WEB_URL=http://127.0.0.1:3000, ...
type Endpoints func(ctx context.Context, env string) (map[string]string, error)

// Promoter carries out promotions, approvals and rollbacks.
type Promoter struct {
	Project   *spec.Project
	Store     store.Store
	Deploy    Deployer
	Endpoints Endpoints
	// Verify checks a snapshot's signature and its artifacts' integrity.
	Verify func(s *snapshot.Snapshot) error
	Events *deploy.Recorder
	// Holder identifies this process (lease.Self) for the environment's
	// lease, held while it promotes or rolls back.
	Holder store.Holder
	// Wait is how long a promotion waits for another ladder process
	// holding the environment before it is refused (LockedError).
	Wait time.Duration
	// Push copies a snapshot's images, by digest, to the registry of an
	// environment that has one (environments.NAME.registry), before the
	// snapshot is deployed there. It is only called for such
	// environments; nil means they cannot be deployed to.
	Push func(ctx context.Context, env *spec.Environment, s *snapshot.Snapshot) error
	// Dir is where gate test commands run (the project directory).
	Dir string
	Now func() time.Time
	// IfMatch, when set, is an If-Match (entity tags, EnvTag) the
	// environment must still match once its lease is held, before a
	// promotion or rollback records anything: otherwise it is refused
	// with a *PreconditionError.
	IfMatch string
}

// Request asks for a promotion.
type Request struct {
	Snapshot string // ID or unique prefix
	To       string
	By       string
	Why      string
}

// Result is a promotion's record, its gates and, when it ran, its deploy.
type Result struct {
	Promotion store.Promotion    `json:"promotion"`
	Gates     []store.GateResult `json:"gates"`
	Deploy    *api.DeployResult  `json:"deploy,omitempty"`
	Snapshot  *snapshot.Snapshot `json:"snapshot"`
}

// BlockedError is a promotion a gate refused.
type BlockedError struct {
	Promotion store.Promotion
	Failed    []store.GateResult
}

func (e *BlockedError) Error() string {
	var lines []string
	for _, g := range e.Failed {
		lines = append(lines, fmt.Sprintf("  %s: %s", g.Gate, g.Reason))
	}
	return fmt.Sprintf("promotion %d of snapshot %s to %s is blocked:\n%s",
		e.Promotion.ID, snapshot.Short(e.Promotion.Snapshot), e.Promotion.To, strings.Join(lines, "\n"))
}

// LockedError says another ladder process holds the environment (it is
// promoting, rolling back, deploying or taking it down).
type LockedError struct {
	Env    string
	Holder store.Lease
}

func (e *LockedError) Error() string {
	h := e.Holder.Holder
	return fmt.Sprintf("%s is busy: another ladder process (pid %d on %s) holds it until %s; wait for it, or stop it",
		e.Env, h.PID, h.Host, e.Holder.Expires.Local().Format("15:04:05"))
}

func (p *Promoter) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Promoter) env(name string) (*spec.Environment, error) {
	e, ok := p.Project.Ladder.Environment(name)
	if !ok {
		return nil, fmt.Errorf("no environment %q in the ladder", name)
	}
	return e, nil
}

// lock takes env's lease (lease.EnvName); release it with the returned
// func. A holder that died is taken over once its lease expired.
func (p *Promoter) lock(ctx context.Context, env string) (func(), error) {
	holder := p.Holder
	if holder.IsZero() {
		holder = lease.Self()
	}
	held, err := lease.Acquire(ctx, p.Store, lease.EnvName(env), holder, lease.Options{Wait: p.Wait})
	var busy *lease.BusyError
	if errors.As(err, &busy) {
		return nil, &LockedError{Env: env, Holder: busy.Lease}
	}
	if err != nil {
		return nil, err
	}
	return held.Release, nil
}

// Recover closes the promotions to env that a process which died left
// open, once it holds env's lease (waiting as Wait says: a live promoter
// keeps it, and *LockedError says so).
func (p *Promoter) Recover(ctx context.Context, env string) error {
	unlock, err := p.lock(ctx, env)
	if err != nil {
		return err
	}
	defer unlock()
	return p.recoverInterrupted(ctx, env)
}

// recoverInterrupted closes promotions to env left open by a process that
// died mid-promotion. It runs under env's lease, so no live process owns
// them: a promotion is only ever open while its maker holds the lease.
func (p *Promoter) recoverInterrupted(ctx context.Context, env string) error {
	open, err := p.Store.ListPromotions(ctx, store.PromotionFilter{To: env})
	if err != nil {
		return err
	}
	for _, pr := range open {
		if pr.Phase.IsTerminal() {
			continue
		}
		reason := "interrupted: the ladder process promoting it stopped; the release history shows what reached the environment"
		if err := p.Store.UpdatePromotion(ctx, pr.ID, store.PromotionFailed, reason, p.now()); err != nil {
			return err
		}
		p.audit(ctx, store.AuditEntry{Actor: "ladder", Action: "promote", Env: env, Snapshot: pr.Snapshot, Outcome: "interrupted", Detail: reason})
	}
	return nil
}

func (p *Promoter) audit(ctx context.Context, e store.AuditEntry) {
	if e.Time.IsZero() {
		e.Time = p.now()
	}
	_, _ = p.Store.Audit(context.WithoutCancel(ctx), e)
}

func (p *Promoter) event(env, snap string, kind store.EventKind, msg string) {
	if p.Events == nil {
		return
	}
	e, err := p.env(env)
	if err != nil {
		return
	}
	for _, s := range e.Sites {
		p.Events.Record(store.Event{Kind: kind, Env: env, Site: s.Name, Snapshot: snap, Message: msg})
	}
}

// Promote moves req.Snapshot to req.To if every gate passes. A blocked
// promotion is recorded with its gate results and returned as a
// *BlockedError; nothing is deployed. No artifact is ever built.
func (p *Promoter) Promote(ctx context.Context, req Request) (*Result, error) {
	to, err := p.env(req.To)
	if err != nil {
		return nil, err
	}
	if to.From == "" {
		return nil, fmt.Errorf("%s is the first rung: nothing promotes to it; deploy it with `ladder up --env %s`", to.Name, to.Name)
	}
	if to.Template {
		return nil, fmt.Errorf("%s is a template (previews are made from it), not a rung to promote to", to.Name)
	}
	from, err := p.env(to.From)
	if err != nil {
		return nil, err
	}
	snap, err := p.Store.GetSnapshot(ctx, req.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", req.Snapshot, err)
	}
	unlock, err := p.lock(ctx, to.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := CheckIfMatch(ctx, p.Store, to.Name, p.IfMatch); err != nil {
		return nil, err
	}
	if err := p.recoverInterrupted(ctx, to.Name); err != nil {
		return nil, err
	}
	if err := p.refuseWeakerPolicy(ctx, to, snap.ID); err != nil {
		return nil, err
	}
	// The previous rung's releases that passed their soak become
	// known-good now, whether or not this promotion goes through.
	_ = p.RefreshKnownGood(ctx, from.Name)

	pr, err := p.Store.CreatePromotion(ctx, store.Promotion{
		Snapshot: snap.ID, From: from.Name, To: to.Name, Phase: store.PromotionPending,
		By: req.By, Why: req.Why, Created: p.now(), Updated: p.now(),
	})
	if err != nil {
		return nil, err
	}
	p.audit(ctx, store.AuditEntry{Actor: req.By, Action: "promote", Env: to.Name, Snapshot: snap.ID, Outcome: "requested",
		Detail: fmt.Sprintf("promotion %d from %s; %s", pr.ID, from.Name, orDash(req.Why))})

	ev, err := p.Gather(ctx, snap, from, to)
	if err == nil && to.Protected {
		ev.Authors, err = p.authors(ctx, snap.ID)
	}
	if err != nil {
		_ = p.Store.UpdatePromotion(ctx, pr.ID, store.PromotionFailed, err.Error(), p.now())
		return nil, err
	}
	gates := Evaluate(*ev)
	for _, g := range gates {
		g.Promotion = pr.ID
		if err := p.Store.AddGateResult(ctx, g); err != nil {
			return nil, err
		}
		outcome := "passed"
		if !g.Passed {
			outcome = "failed"
		}
		p.audit(ctx, store.AuditEntry{Actor: "ladder", Action: "gate", Env: to.Name, Snapshot: snap.ID, Outcome: outcome, Detail: g.Gate + ": " + g.Reason})
	}
	res := &Result{Gates: gates, Snapshot: snap}
	if ok, failed := Passed(gates); !ok {
		var names []string
		for _, g := range failed {
			names = append(names, g.Gate)
		}
		reason := "gates failed: " + strings.Join(names, ", ")
		_ = p.Store.UpdatePromotion(ctx, pr.ID, store.PromotionBlocked, reason, p.now())
		pr.Phase, pr.Reason = store.PromotionBlocked, reason
		res.Promotion = pr
		p.event(to.Name, snap.ID, eventPromotionBlocked, fmt.Sprintf("promotion %d of snapshot %s to %s blocked: %s", pr.ID, snapshot.Short(snap.ID), to.Name, reason))
		return res, &BlockedError{Promotion: pr, Failed: failed}
	}

	if err := p.Store.UpdatePromotion(ctx, pr.ID, store.PromotionRunning, "gates passed", p.now()); err != nil {
		return nil, err
	}
	var dres *api.DeployResult
	err = p.push(ctx, to, snap)
	var token string
	if err == nil {
		token, err = p.issueGrant(ctx, to.Name, snap.ID, fmt.Sprintf("promotion %d", pr.ID))
	}
	if err == nil {
		dres, err = p.Deploy(ctx, to.Name, snap.ID, req.By, token)
	}
	res.Deploy = dres
	phase, reason, outcome := store.PromotionSucceeded, "deployed", "succeeded"
	if err != nil {
		phase, reason, outcome = store.PromotionFailed, err.Error(), "failed"
	}
	_ = p.Store.UpdatePromotion(context.WithoutCancel(ctx), pr.ID, phase, reason, p.now())
	pr.Phase, pr.Reason = phase, reason
	res.Promotion = pr
	p.audit(ctx, store.AuditEntry{Actor: req.By, Action: "promote", Env: to.Name, Snapshot: snap.ID, Outcome: outcome, Detail: fmt.Sprintf("promotion %d: %s", pr.ID, reason)})
	if err != nil {
		return res, err
	}
	p.event(to.Name, snap.ID, eventPromoted, fmt.Sprintf("snapshot %s promoted from %s to %s (promotion %d)", snapshot.Short(snap.ID), from.Name, to.Name, pr.ID))
	return res, nil
}

// Promotion events.
const (
	eventPromoted         store.EventKind = "promotion.succeeded"
	eventPromotionBlocked store.EventKind = "promotion.blocked"
	eventRolledBack       store.EventKind = "rollback.succeeded"
)

func orDash(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// Approve records by's approval of a snapshot for env. by is an
// authenticated name; it is recorded normalised (NFC, case-folded), so
// one person approving under two spellings counts once. On a protected
// rung, whoever made or promoted the snapshot cannot approve it.
func (p *Promoter) Approve(ctx context.Context, snapshotRef, env, by, comment string) (store.Approval, error) {
	e, err := p.env(env)
	if err != nil {
		return store.Approval{}, err
	}
	by = auth.NormalizeName(by)
	if auth.Anonymous(by) {
		return store.Approval{}, errors.New("an approval needs a known identity: approve with a token of your own")
	}
	snap, err := p.Store.GetSnapshot(ctx, snapshotRef)
	if err != nil {
		return store.Approval{}, fmt.Errorf("snapshot %s: %w", snapshotRef, err)
	}
	a := store.Approval{Snapshot: snap.ID, Env: env, By: by, Comment: comment, At: p.now()}
	if e.Protected {
		authors, err := p.authors(ctx, snap.ID)
		if err != nil {
			return a, err
		}
		if slices.Contains(authors, by) {
			p.audit(ctx, store.AuditEntry{Actor: by, Action: "approve", Env: env, Snapshot: snap.ID, Outcome: "refused", Detail: "two-person rule"})
			return a, &SelfApprovalError{By: by, Snapshot: snap.ID, Env: env}
		}
	}
	if err := p.Store.AddApproval(ctx, a); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return a, fmt.Errorf("%s has already approved snapshot %s for %s: approvals must come from distinct identities", by, snapshot.Short(snap.ID), env)
		}
		return a, err
	}
	p.audit(ctx, store.AuditEntry{Actor: by, Action: "approve", Env: env, Snapshot: snap.ID, Outcome: "approved", Detail: orDash(comment)})
	return a, nil
}

// refuseWeakerPolicy refuses to act on env while its ladder.yaml asks for
// less than the policy pinned for it: the gates would be judged by the
// weaker file. The pin itself is made or strengthened by the admission.
func (p *Promoter) refuseWeakerPolicy(ctx context.Context, env *spec.Environment, snap string) error {
	ps, err := PolicyOfStore(ctx, p.Store, env)
	if err != nil {
		return err
	}
	if len(ps.Weaker) > 0 {
		return Decide(Admission{Env: env.Name, Snapshot: snap, Policy: ps.File, Weaker: ps.Weaker})
	}
	return nil
}

// SelfApprovalError is an approval on a protected rung by someone who
// made or promoted the snapshot: the two-person rule wants another.
type SelfApprovalError struct {
	By, Snapshot, Env string
}

func (e *SelfApprovalError) Error() string {
	return fmt.Sprintf("%s made or promoted snapshot %s, so cannot approve it for %s, a protected rung: another person has to",
		e.By, snapshot.Short(e.Snapshot), e.Env)
}

// Is makes a self-approval a refusal for lack of rights
// (auth.ErrForbidden): HTTP 403, exit code 8.
func (e *SelfApprovalError) Is(target error) bool { return target == auth.ErrForbidden }

// authors returns, normalised, who made or promoted snapshot id: who
// asked for any of its releases or promotions.
func (p *Promoter) authors(ctx context.Context, id string) ([]string, error) {
	seen := map[string]bool{}
	proms, err := p.Store.ListPromotions(ctx, store.PromotionFilter{Snapshot: id})
	if err != nil {
		return nil, err
	}
	for _, pr := range proms {
		seen[auth.NormalizeName(pr.By)] = true
	}
	rels, err := p.Store.ListReleases(ctx, store.ReleaseFilter{Snapshot: id})
	if err != nil {
		return nil, err
	}
	for _, r := range rels {
		seen[auth.NormalizeName(r.By)] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		if !auth.Anonymous(n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// push sends snap's images to env's registry, when it has one: its
// engine pulls them from there by digest.
func (p *Promoter) push(ctx context.Context, env *spec.Environment, snap *snapshot.Snapshot) error {
	if env.Registry == nil || env.Registry.Address == "" {
		return nil
	}
	if p.Push == nil {
		return fmt.Errorf("%s pulls its images from the registry %s, and this ladder cannot push to it", env.Name, env.Registry.Address)
	}
	if err := p.Push(ctx, env, snap); err != nil {
		return fmt.Errorf("pushing snapshot %s's images to %s (the registry of %s): %w", snapshot.Short(snap.ID), env.Registry.Address, env.Name, err)
	}
	return nil
}
