package promote

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// TestApproveTwoPersonRule: on a protected rung, whoever made or promoted
// the snapshot cannot approve it, whatever the spelling of their name;
// anonymous approvals are refused; names are recorded normalised, so one
// person counts once.
func TestApproveTwoPersonRule(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	dev := &r.p.Project.Ladder.Environments[1]
	dev.Protected, dev.Gates = true, spec.Gates{Approvals: 2}
	// Maker released it on local; Pat asks to promote it to dev.
	if _, err := r.st.CreateRelease(ctx, store.Release{Env: "local", Site: "default", Snapshot: r.snap.ID, Phase: store.PhaseProgressing, Started: time.Now(), By: "Maker"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.p.Promote(ctx, Request{Snapshot: r.snap.ID, To: "dev", By: "pat"}); err == nil {
		t.Fatal("the promotion passed without approvals")
	}

	for _, by := range []string{"maker", "MAKER", "Pat", " pat "} {
		_, err := r.p.Approve(ctx, r.snap.ID, "dev", by, "")
		var self *SelfApprovalError
		if !errors.As(err, &self) || !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("approval by %q: %v, want a SelfApprovalError", by, err)
		}
	}
	for _, by := range []string{"", "  ", "unknown", "Unknown"} {
		if _, err := r.p.Approve(ctx, r.snap.ID, "dev", by, ""); err == nil {
			t.Errorf("an approval by %q was recorded", by)
		}
	}
	if ap, err := r.p.Approve(ctx, r.snap.ID, "dev", "Jose\u0301", "ok"); err != nil || ap.By != "jos\u00e9" {
		t.Errorf("approval by José: %+v, %v", ap, err)
	}
	if _, err := r.p.Approve(ctx, r.snap.ID, "dev", "JOS\u00c9", ""); err == nil || !strings.Contains(err.Error(), "already approved") {
		t.Errorf("a second approval by José, spelt otherwise: %v", err)
	}
	aps, err := r.st.Approvals(ctx, r.snap.ID, "dev")
	if err != nil || len(aps) != 1 {
		t.Errorf("approvals recorded: %+v, %v; want José's only", aps, err)
	}

	// On an unprotected rung the promoter may approve.
	dev.Protected = false
	if _, err := r.p.Approve(ctx, r.snap.ID, "dev", "pat", ""); err != nil {
		t.Errorf("approval by the promoter of an unprotected rung: %v", err)
	}
}

// TestApprovalsGateCountsPeople: the gate counts distinct normalised
// names, never an anonymous one, and on a protected rung not the
// snapshot's authors (approvals recorded before they promoted it).
func TestApprovalsGateCountsPeople(t *testing.T) {
	snap := &snapshot.Snapshot{ID: strings.Repeat("ab", 32)}
	from := &spec.Environment{Name: "staging"}
	prod := &spec.Environment{Name: "prod", From: "staging", Protected: true, Gates: spec.Gates{Approvals: 2}}
	ev := Evidence{Snapshot: snap, From: from, To: prod, Now: time.Now(),
		Approvals: []store.Approval{{By: "Ana"}, {By: "ana"}, {By: "unknown"}, {By: ""}, {By: "pat"}},
		Authors:   []string{"Pat"},
	}
	g := gateOf(Evaluate(ev), GateApprovals)
	if g.Passed || !strings.Contains(g.Reason, "has 1 (ana)") || !strings.Contains(g.Reason, "not counted: pat") {
		t.Errorf("protected: %+v", g)
	}
	ev.Approvals = append(ev.Approvals, store.Approval{By: "Bo"})
	if g := gateOf(Evaluate(ev), GateApprovals); !g.Passed || !strings.Contains(g.Reason, "approved by ana, bo") {
		t.Errorf("protected, two others: %+v", g)
	}
	ev.Approvals = ev.Approvals[:5]
	ev.To = &spec.Environment{Name: "qa", From: "staging", Gates: spec.Gates{Approvals: 2}}
	if g := gateOf(Evaluate(ev), GateApprovals); !g.Passed || !strings.Contains(g.Reason, "approved by ana, pat") {
		t.Errorf("unprotected: %+v", g)
	}
}

func gateOf(gs []store.GateResult, name string) store.GateResult {
	for _, g := range gs {
		if g.Gate == name {
			return g
		}
	}
	return store.GateResult{Gate: name, Reason: "missing"}
}
