package promote

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// soakOf is how long a release on env must stay healthy to be known-good:
// the longest soak a rung promoting from env asks for (none: as soon as it
// succeeded, since it passed health to succeed at all).
func (p *Promoter) soakOf(env string) (d time.Duration) {
	for _, e := range p.Project.Ladder.Environments {
		if e.From == env && e.Gates.Soak > d {
			d = e.Gates.Soak
		}
	}
	return d
}

// limitsOf is what a release's telemetry on env must keep within to be
// known-good: the strictest limits of the rungs promoting from env (the
// default limits on a rung none promotes from), so that a release known-good
// on env is one every next rung would let through.
func (p *Promoter) limitsOf(env string) Limits {
	var l *Limits
	for _, e := range p.Project.Ladder.Environments {
		if e.From == env {
			g := LimitsOf(e.Gates)
			if l != nil {
				g = l.Stricter(g)
			}
			l = &g
		}
	}
	if l == nil {
		return LimitsOf(spec.Gates{})
	}
	return *l
}

// services are the stack's service names, sorted.
func (p *Promoter) services() []string {
	if p.Project.Stack == nil || p.Project.Stack.Compose == nil {
		return nil
	}
	names := make([]string, 0, len(p.Project.Stack.Compose.Services))
	for name := range p.Project.Stack.Compose.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// EventKnownGoodJudged records the verdict on a release once its soak is
// over: attrs release (its ID) and knownGood ("true" or "false"); the
// message is the reason.
const EventKnownGoodJudged store.EventKind = "release.judged"

// RefreshKnownGood judges env's current releases once their soak is over
// (JudgeKnownGood), records each verdict with its reason (an event and an
// audit entry) and marks the good ones known-good. A release judged not
// known-good stays so: its soak is behind it.
func (p *Promoter) RefreshKnownGood(ctx context.Context, env string) error {
	e, err := p.env(env)
	if err != nil {
		return err
	}
	soak, limits := p.soakOf(env), p.limitsOf(env)
	for _, site := range e.Sites {
		rels, err := p.Store.ListReleases(ctx, store.ReleaseFilter{Env: env, Site: site.Name, Phase: store.PhaseSucceeded, Limit: 1})
		if err != nil {
			return err
		}
		if len(rels) == 0 || rels[0].KnownGood || p.now().Sub(rels[0].Finished) < soak {
			continue
		}
		rel := rels[0]
		if rel.Verdict != "" {
			continue // judged already: a verdict is final
		}
		trouble, err := p.troubleSince(ctx, rel.Snapshot, env, site.Name, rel.Finished)
		if err != nil {
			return err
		}
		samples, err := p.Store.ListSamples(ctx, store.SampleFilter{Env: env, Site: site.Name, Snapshot: rel.Snapshot, Since: rel.Finished})
		if err != nil {
			return err
		}
		v := JudgeKnownGood(KnownGoodEvidence{Release: rel, Env: env, Soak: soak, Limits: limits,
			Services: p.services(), Trouble: trouble, Samples: samples, Now: p.now()})
		if !v.Final {
			continue
		}
		if v.KnownGood {
			if err := p.Store.MarkKnownGood(ctx, rel.ID, p.now()); err != nil {
				return err
			}
		}
		p.recordVerdict(ctx, rel, v)
	}
	return nil
}

// recordVerdict keeps a release's known-good verdict with the release
// (which `ladder history` reads it from), in the events and in the audit
// trail.
func (p *Promoter) recordVerdict(ctx context.Context, rel store.Release, v KnownGoodVerdict) {
	good, outcome := "false", "not known-good"
	if v.KnownGood {
		good, outcome = "true", "known-good"
	}
	reason := v.Reason
	if reason == "" {
		reason = outcome
	}
	if err := p.Store.RecordVerdict(context.WithoutCancel(ctx), rel.ID, reason); err != nil && p.Events != nil && p.Events.Logger != nil {
		p.Events.Logger.Warn("record a known-good verdict", "release", rel.ID, "err", err)
	}
	_, _ = p.Store.AppendEvent(context.WithoutCancel(ctx), store.Event{Time: p.now(), Kind: EventKnownGoodJudged,
		Env: rel.Env, Site: rel.Site, Snapshot: rel.Snapshot, Message: v.Reason,
		Attrs: map[string]string{"release": strconv.FormatInt(rel.ID, 10), "knownGood": good}})
	p.audit(ctx, store.AuditEntry{Actor: "ladder", Action: "known-good", Env: rel.Env, Snapshot: rel.Snapshot, Outcome: outcome,
		Detail: fmt.Sprintf("release %d on site %s: %s", rel.ID, rel.Site, v.Reason)})
}

// RollbackResult says what a rollback redeployed.
type RollbackResult struct {
	Environment string             `json:"environment"`
	From        string             `json:"from"`
	To          *snapshot.Snapshot `json:"to"`
	Deploy      *api.DeployResult  `json:"deploy"`
}

// Rollback redeploys env's last known-good snapshot (or to, when given:
// any snapshot that once succeeded there). Nothing is rebuilt: the
// snapshot's artifacts are already in the artifact store.
func (p *Promoter) Rollback(ctx context.Context, env, to, by, why string) (*RollbackResult, error) {
	e, err := p.env(env)
	if err != nil {
		return nil, err
	}
	unlock, err := p.lock(ctx, env)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := CheckIfMatch(ctx, p.Store, env, p.IfMatch); err != nil {
		return nil, err
	}
	if err := p.RefreshKnownGood(ctx, env); err != nil {
		return nil, err
	}
	current := p.current(ctx, e)
	var target *snapshot.Snapshot
	if to != "" {
		snap, err := p.Store.GetSnapshot(ctx, to)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", to, err)
		}
		ran, err := p.Store.ListReleases(ctx, store.ReleaseFilter{Env: env, Snapshot: snap.ID, Phase: store.PhaseSucceeded, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(ran) == 0 {
			return nil, fmt.Errorf("snapshot %s never ran successfully on %s: roll back to a snapshot from `ladder history %s`", snapshot.Short(snap.ID), env, env)
		}
		target = snap
	} else {
		id, err := p.knownGoodOtherThan(ctx, env, current)
		if err != nil {
			return nil, err
		}
		if id != "" {
			if target, err = p.Store.GetSnapshot(ctx, id); err != nil {
				return nil, fmt.Errorf("known-good snapshot %s: %w", snapshot.Short(id), err)
			}
		}
		if target == nil {
			return nil, fmt.Errorf("%s has no known-good snapshot other than the one it runs: `ladder history %s` lists what ran", env, env)
		}
	}
	if err := p.refuseWeakerPolicy(ctx, e, target.ID); err != nil {
		return nil, err
	}
	p.audit(ctx, store.AuditEntry{Actor: by, Action: "rollback", Env: env, Snapshot: target.ID, Outcome: "requested",
		Detail: fmt.Sprintf("from %s; %s", snapshot.Short(current), orDash(why))})
	// A rollback redeploys digests the registry already has; pushing
	// again costs a HEAD per blob and repairs a registry that lost them.
	var dres *api.DeployResult
	err = p.push(ctx, e, target)
	var token string
	if err == nil {
		// The rollback's own check passed: the snapshot ran successfully
		// on env (and, without --to, is known-good there).
		token, err = p.issueGrant(ctx, env, target.ID, "rollback")
	}
	if err == nil {
		dres, err = p.Deploy(ctx, env, target.ID, by, token)
	}
	outcome := "succeeded"
	if err != nil {
		outcome = "failed: " + err.Error()
	}
	p.audit(ctx, store.AuditEntry{Actor: by, Action: "rollback", Env: env, Snapshot: target.ID, Outcome: outcome})
	res := &RollbackResult{Environment: env, From: current, To: target, Deploy: dres}
	if err != nil {
		return res, err
	}
	p.event(env, target.ID, eventRolledBack, fmt.Sprintf("%s rolled back from %s to known-good snapshot %s", env, snapshot.Short(current), snapshot.Short(target.ID)))
	return res, nil
}

// RollbackTarget is the snapshot that `ladder rollback ENV` would return
// env to as things stand: its newest known-good release of another
// snapshot than the one it runs. "" means there is nothing to roll back
// to, so a dashboard need not offer it.
func (p *Promoter) RollbackTarget(ctx context.Context, env string) (string, error) {
	e, err := p.env(env)
	if err != nil {
		return "", err
	}
	return p.knownGoodOtherThan(ctx, env, p.current(ctx, e))
}

// current is the snapshot env runs: that of its latest succeeded release
// (on its first site). A failed release left the one before it running,
// so it is not what a rollback moves away from.
func (p *Promoter) current(ctx context.Context, e *spec.Environment) string {
	if len(e.Sites) == 0 {
		return ""
	}
	rels, err := p.Store.ListReleases(ctx, store.ReleaseFilter{Env: e.Name, Site: e.Sites[0].Name, Phase: store.PhaseSucceeded, Limit: 1})
	if err != nil || len(rels) == 0 {
		return ""
	}
	return rels[0].Snapshot
}

// knownGoodOtherThan is env's newest known-good snapshot other than
// current, or "".
func (p *Promoter) knownGoodOtherThan(ctx context.Context, env, current string) (string, error) {
	good, err := p.Store.ListReleases(ctx, store.ReleaseFilter{Env: env, KnownGood: true})
	if err != nil {
		return "", err
	}
	for _, r := range good {
		if r.Snapshot != current {
			return r.Snapshot, nil
		}
	}
	return "", nil
}

// ResumeGrant issues a grant that brings env back to snap after the
// engine that ran it stopped without taking it down (killed, or the
// machine restarted): the check is a rollback --to's, that snap ran
// successfully on env.
func (p *Promoter) ResumeGrant(ctx context.Context, env, snap string) (string, error) {
	rels, err := p.Store.ListReleases(ctx, store.ReleaseFilter{Env: env, Snapshot: snap, Phase: store.PhaseSucceeded, Limit: 1})
	if err != nil {
		return "", err
	}
	if len(rels) == 0 {
		return "", fmt.Errorf("snapshot %s never ran successfully on %s", snapshot.Short(snap), env)
	}
	return p.issueGrant(ctx, env, snap, "resume")
}
