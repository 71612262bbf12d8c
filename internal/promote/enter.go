package promote

import (
	"context"
	"fmt"
	"strings"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// Enter checks the gates of a first rung (one nothing promotes to, which
// `ladder up` deploys) for snapshot snapRef and returns a grant for the
// deploy. Only the gates that need no previous rung can pass there: the
// signature and approvals; a soak or gate tests, which judge the rung a
// snapshot comes from, refuse it. A rung without gates needs no grant
// (""), nor does a snapshot known-good there.
func (p *Promoter) Enter(ctx context.Context, envName, snapRef, by string) (string, error) {
	e, err := p.env(envName)
	if err != nil {
		return "", err
	}
	if e.From != "" {
		return "", fmt.Errorf("%s is promoted to from %s: ladder promote SNAPSHOT --to %s", e.Name, e.From, e.Name)
	}
	pol := PolicyOf(e)
	if !pol.Gated() {
		return "", nil
	}
	snap, err := p.Store.GetSnapshot(ctx, snapRef)
	if err != nil {
		return "", fmt.Errorf("snapshot %s: %w", snapRef, err)
	}
	if err := p.refuseWeakerPolicy(ctx, e, snap.ID); err != nil {
		return "", err
	}
	good, err := p.Store.ListReleases(ctx, store.ReleaseFilter{Env: e.Name, Snapshot: snap.ID, KnownGood: true, Limit: 1})
	if err != nil {
		return "", err
	}
	if len(good) > 0 {
		return "", nil
	}
	var failed []string
	if pol.Soak != "" || len(pol.Tests) > 0 {
		failed = append(failed, fmt.Sprintf("its soak and gate tests judge the rung a snapshot comes from, and %s is the first rung", e.Name))
	}
	if pol.NeedsSignature() {
		switch {
		case p.Verify == nil:
			failed = append(failed, "this ladder cannot verify signatures")
		default:
			if err := p.Verify(snap); err != nil {
				failed = append(failed, err.Error())
			}
		}
	}
	if pol.Approvals > 0 {
		aps, err := p.Store.Approvals(ctx, snap.ID, e.Name)
		if err != nil {
			return "", err
		}
		by := map[string]bool{}
		for _, a := range aps {
			by[a.By] = true
		}
		if len(by) < pol.Approvals {
			failed = append(failed, fmt.Sprintf("needs %d approval(s), has %d: ladder approve %s --to %s", pol.Approvals, len(by), snapshot.Short(snap.ID), e.Name))
		}
	}
	if len(failed) > 0 {
		reason := strings.Join(failed, "; ")
		p.audit(ctx, store.AuditEntry{Actor: orLadder(by), Action: "admit", Env: e.Name, Snapshot: snap.ID, Outcome: "refused", Detail: reason})
		return "", &AdmissionError{Env: e.Name, Snapshot: snap.ID, Reason: "its gates do not pass: " + reason}
	}
	return p.issueGrant(ctx, e.Name, snap.ID, "up")
}
