package promote

import (
	"context"
	"fmt"
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

// RefreshKnownGood marks env's current releases known-good once they have
// passed health and the soak, with nothing gone wrong since.
func (p *Promoter) RefreshKnownGood(ctx context.Context, env string) error {
	e, err := p.env(env)
	if err != nil {
		return err
	}
	soak := p.soakOf(env)
	for _, site := range e.Sites {
		rels, err := p.Store.ListReleases(ctx, store.ReleaseFilter{Env: env, Site: site.Name, Phase: store.PhaseSucceeded, Limit: 1})
		if err != nil {
			return err
		}
		if len(rels) == 0 || rels[0].KnownGood || p.now().Sub(rels[0].Finished) < soak {
			continue
		}
		trouble, err := p.troubleSince(ctx, rels[0].Snapshot, env, site.Name, rels[0].Finished)
		if err != nil {
			return err
		}
		if trouble != "" {
			continue
		}
		if err := p.Store.MarkKnownGood(ctx, rels[0].ID, p.now()); err != nil {
			return err
		}
	}
	return nil
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
	p.audit(ctx, store.AuditEntry{Actor: by, Action: "rollback", Env: env, Snapshot: target.ID, Outcome: "requested",
		Detail: fmt.Sprintf("from %s; %s", snapshot.Short(current), orDash(why))})
	// A rollback redeploys digests the registry already has; pushing
	// again costs a HEAD per blob and repairs a registry that lost them.
	var dres *api.DeployResult
	err = p.push(ctx, e, target)
	if err == nil {
		dres, err = p.Deploy(ctx, env, target.ID, by)
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
