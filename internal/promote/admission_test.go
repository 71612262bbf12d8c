package promote

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

// TestDecide: every gate, with every fate of a grant, and known-good.
func TestDecide(t *testing.T) {
	badSig := errors.New("signature does not verify with any trusted key")
	policies := map[string]Policy{
		"none":      {MaxErrorRate: 0.05},
		"protected": {Protected: true, MaxErrorRate: 0.05},
		"signed":    {Signed: true, MaxErrorRate: 0.05},
		"approvals": {Approvals: 2, MaxErrorRate: 0.05},
		"soak":      {Soak: "10m", MaxErrorRate: 0.05},
		"tests":     {Tests: []string{"smoke"}, MaxErrorRate: 0.05},
	}
	cases := []struct {
		grant     GrantState
		knownGood bool
		want      string // "" admits; else a part of the refusal
	}{
		{GrantValid, false, ""},
		{GrantNone, false, "the rung is gated"},
		{GrantUsed, false, "grant was used already"},
		{GrantExpired, false, "grant expired"},
		{GrantUnknown, false, "not issued for this snapshot"},
		{GrantNone, true, ""},
		{GrantUsed, true, ""},
	}
	for name, pol := range policies {
		for _, c := range cases {
			t.Run(name+"/"+string(c.grant)+map[bool]string{true: "/known-good"}[c.knownGood], func(t *testing.T) {
				err := Decide(Admission{Env: "prod", Snapshot: strings.Repeat("a", 64), Policy: pol, Grant: c.grant, KnownGood: c.knownGood})
				want := c.want
				if !pol.Gated() {
					want = "" // an ungated rung takes any snapshot
				}
				checkDecision(t, err, want)
			})
		}
	}
	// A signed rung refuses a bad signature whatever the grant.
	for _, name := range []string{"protected", "signed"} {
		for _, c := range cases {
			err := Decide(Admission{Env: "prod", Snapshot: strings.Repeat("a", 64), Policy: policies[name], Grant: c.grant, KnownGood: c.knownGood, SignatureErr: badSig})
			checkDecision(t, err, "signature does not verify")
			if !errors.Is(err, badSig) {
				t.Errorf("%s: the refusal does not wrap the signature error: %v", name, err)
			}
		}
	}
	// A weakened policy refuses everything, even a valid grant.
	err := Decide(Admission{Env: "prod", Policy: policies["none"], Weaker: []string{"protected: true is gone"}, Grant: GrantValid, KnownGood: true})
	checkDecision(t, err, "protected: true is gone")
}

func checkDecision(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("refused: %v", err)
	case want != "" && err == nil:
		t.Errorf("admitted, want a refusal saying %q", want)
	case want != "" && (!errors.Is(err, ErrNotAdmitted) || !strings.Contains(err.Error(), want)):
		t.Errorf("refusal %v, want ErrNotAdmitted saying %q", err, want)
	}
}

func TestWeakenings(t *testing.T) {
	strict := Policy{From: "staging", Protected: true, Signed: true, Approvals: 2, Soak: "30m", Tests: []string{"smoke"}, MaxErrorRate: 0.01, MaxP95: "500ms"}
	if w := Weakenings(strict, strict); len(w) != 0 {
		t.Errorf("same policy: %v", w)
	}
	stricter := strict
	stricter.Approvals, stricter.Soak, stricter.Tests, stricter.MaxErrorRate, stricter.MaxP95 = 3, "1h", []string{"e2e", "smoke"}, 0.005, "200ms"
	if w := Weakenings(strict, stricter); len(w) != 0 {
		t.Errorf("stricter policy: %v", w)
	}
	for what, weaken := range map[string]func(*Policy){
		"from":         func(p *Policy) { p.From = "dev" },
		"protected":    func(p *Policy) { p.Protected = false },
		"signed":       func(p *Policy) { p.Signed = false },
		"approvals":    func(p *Policy) { p.Approvals = 1 },
		"soak":         func(p *Policy) { p.Soak = "" },
		"test":         func(p *Policy) { p.Tests = nil },
		"maxErrorRate": func(p *Policy) { p.MaxErrorRate = 0.05 },
		"maxP95":       func(p *Policy) { p.MaxP95 = "" },
	} {
		p := strict
		weaken(&p)
		if w := Weakenings(strict, p); len(w) != 1 {
			t.Errorf("%s weakened: %v, want one weakening", what, w)
		}
	}
}

// admitRig is a store with a snapshot and a gated rung.
func admitRig(t *testing.T) (*sqlite.Store, *snapshot.Snapshot, *spec.Environment) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	snap := snapshot.New("shop", strings.Repeat("1", 64), map[string]snapshot.Artifact{
		"api": {Service: "api", Digest: "sha256:" + strings.Repeat("a", 64)},
	}, "", time.Now())
	if _, err := st.PutSnapshot(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	env := &spec.Environment{Name: "prod", From: "staging", Sites: []spec.Site{{Name: "default"}}, Gates: spec.Gates{Approvals: 1, Soak: time.Minute}}
	return st, snap, env
}

// TestAdmitter runs the admission over a real store: grants are single
// use, bound to env and snapshot, and expire; known-good snapshots come
// back without one; the policy is pinned at the first deploy.
func TestAdmitter(t *testing.T) {
	ctx := context.Background()
	st, snap, env := admitRig(t)
	now := time.Now().UTC()
	ad := &Admitter{Store: st, Now: func() time.Time { return now }}

	if err := ad.Admit(ctx, env, snap, "", "mallory"); !errors.Is(err, ErrNotAdmitted) {
		t.Fatalf("no grant: %v, want a refusal", err)
	}
	token, g := NewGrant("prod", snap.ID, "promotion 1", now)
	if err := st.PutGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := ad.Admit(ctx, env, snap, "not-the-token", "mallory"); err == nil || !strings.Contains(err.Error(), "not issued") {
		t.Errorf("a made-up token: %v", err)
	}
	if err := ad.Admit(ctx, env, snap, token, "ana"); err != nil {
		t.Fatalf("a valid grant: %v", err)
	}
	if err := ad.Admit(ctx, env, snap, token, "ana"); err == nil || !strings.Contains(err.Error(), "used already") {
		t.Errorf("the grant again: %v", err)
	}
	late, g2 := NewGrant("prod", snap.ID, "promotion 2", now.Add(-time.Hour))
	if err := st.PutGrant(ctx, g2); err != nil {
		t.Fatal(err)
	}
	if err := ad.Admit(ctx, env, snap, late, "ana"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired grant: %v", err)
	}
	other, g3 := NewGrant("staging", snap.ID, "promotion 3", now)
	if err := st.PutGrant(ctx, g3); err != nil {
		t.Fatal(err)
	}
	if err := ad.Admit(ctx, env, snap, other, "ana"); err == nil || !strings.Contains(err.Error(), "not issued") {
		t.Errorf("a grant for another rung: %v", err)
	}

	// Known-good on the rung: it comes back without a grant.
	rel, err := st.CreateRelease(ctx, store.Release{Env: "prod", Site: "default", Snapshot: snap.ID, Phase: store.PhaseProgressing, Started: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.FinishRelease(ctx, rel.ID, store.PhaseSucceeded, "", now); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkKnownGood(ctx, rel.ID, now); err != nil {
		t.Fatal(err)
	}
	if err := ad.Admit(ctx, env, snap, "", "ana"); err != nil {
		t.Errorf("a known-good snapshot: %v", err)
	}

	// The first deploy pinned the policy: a weaker file is refused even
	// for a known-good snapshot, a stricter one applies at once.
	weaker := *env
	weaker.Gates.Approvals = 0
	if err := ad.Admit(ctx, &weaker, snap, "", "ana"); err == nil || !strings.Contains(err.Error(), "approvals 0 instead of 1") {
		t.Errorf("a weaker policy: %v", err)
	}
	stricter := *env
	stricter.Protected = true
	if err := ad.Admit(ctx, &stricter, snap, "", "ana"); err == nil || !strings.Contains(err.Error(), "cannot verify signatures") {
		t.Errorf("a stricter policy with no verifier: %v", err)
	}
	if err := ad.Admit(ctx, env, snap, "", "ana"); err == nil || !strings.Contains(err.Error(), "protected: true is gone") {
		t.Errorf("back to the old policy after a stricter one was pinned: %v", err)
	}
	if _, err := AcceptPolicy(ctx, st, env, "ana", now); err != nil {
		t.Fatal(err)
	}
	if err := ad.Admit(ctx, env, snap, "", "ana"); err != nil {
		t.Errorf("after accepting the policy: %v", err)
	}
	entries, err := st.ListAudit(ctx, store.AuditFilter{Env: "prod", Action: "policy"})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, e := range entries {
		outcomes = append(outcomes, e.Outcome)
	}
	if strings.Join(outcomes, ",") != "accepted,strengthened,pinned" {
		t.Errorf("policy audit %v, want accepted,strengthened,pinned (newest first)", outcomes)
	}
}

// TestPromoteIssuesAGrantTheAdmissionTakes: promotion and rollback reach
// a gated rung through the admission, with the grants they issue.
func TestPromoteIssuesAGrantTheAdmissionTakes(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.release("local", r.snap.ID, time.Now().Add(-time.Hour))
	if _, err := r.p.Promote(ctx, Request{Snapshot: r.snap.ID, To: "dev", By: "ana"}); err != nil {
		t.Fatalf("promote to a gated rung: %v", err)
	}
	// A bare deploy (no grant) of the same snapshot is refused: it is
	// not known-good on dev yet.
	if _, err := r.p.Deploy(ctx, "dev", r.snap.ID, "mallory", ""); !errors.Is(err, ErrNotAdmitted) {
		t.Errorf("a deploy without a grant: %v, want a refusal", err)
	}
}

// TestEnterAFirstRung: `ladder up` to a gated first rung gets a grant only
// once its signature and approvals pass; soak and tests cannot pass there.
func TestEnterAFirstRung(t *testing.T) {
	ctx := context.Background()
	st, snap, _ := admitRig(t)
	badSig := errors.New("signed with key 0123456789ab, which this ladder does not trust")
	sigErr := badSig
	first := spec.Environment{Name: "local", Sites: []spec.Site{{Name: "default"}}, Gates: spec.Gates{Signed: true, Approvals: 1}}
	proj := &spec.Project{Ladder: &spec.Ladder{Environments: []spec.Environment{first}}}
	p := &Promoter{Project: proj, Store: st, Verify: func(*snapshot.Snapshot) error { return sigErr }}
	ad := &Admitter{Store: st, Verify: p.Verify}

	_, err := p.Enter(ctx, "local", snap.ID, "ana")
	if !errors.Is(err, ErrNotAdmitted) || !strings.Contains(err.Error(), "does not trust") || !strings.Contains(err.Error(), "needs 1 approval(s), has 0") {
		t.Fatalf("Enter with a bad signature and no approval: %v", err)
	}
	sigErr = nil
	if err := st.AddApproval(ctx, store.Approval{Snapshot: snap.ID, Env: "local", By: "bo"}); err != nil {
		t.Fatal(err)
	}
	token, err := p.Enter(ctx, "local", snap.ID, "ana")
	if err != nil || token == "" {
		t.Fatalf("Enter once the gates pass: %q, %v", token, err)
	}
	if err := ad.Admit(ctx, &first, snap, token, "ana"); err != nil {
		t.Errorf("admitting with the grant from Enter: %v", err)
	}

	soaked := first
	soaked.Gates.Soak = time.Minute
	p.Project = &spec.Project{Ladder: &spec.Ladder{Environments: []spec.Environment{soaked}}}
	if _, err := p.Enter(ctx, "local", snap.ID, "ana"); err == nil || !strings.Contains(err.Error(), "is the first rung") {
		t.Errorf("Enter a first rung with a soak: %v", err)
	}
}
