package promote

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

// rig is a two-rung ladder over a real store, with a deployer that
// records releases the way an agent would.
type rig struct {
	t       *testing.T
	st      *sqlite.Store
	p       *Promoter
	snap    *snapshot.Snapshot
	deploys []string
}

func newRig(t *testing.T) *rig {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	proj := &spec.Project{Ladder: &spec.Ladder{Environments: []spec.Environment{
		{Name: "local", Sites: []spec.Site{{Name: "default"}}},
		{Name: "dev", From: "local", Sites: []spec.Site{{Name: "default"}}, Gates: spec.Gates{Soak: time.Minute}},
	}}}
	snap := snapshot.New("shop", strings.Repeat("1", 64), map[string]snapshot.Artifact{
		"api": {Service: "api", Digest: "sha256:" + strings.Repeat("a", 64)},
	}, "", time.Now())
	if _, err := st.PutSnapshot(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, st: st, snap: snap}
	r.p = &Promoter{
		Project: proj, Store: st, Holder: store.Holder{Host: "test", PID: 1, Instance: "rig"}, Dir: t.TempDir(),
		Deploy: func(ctx context.Context, env, id, by, grant string) (*api.DeployResult, error) {
			// The rung's admission, as an agent runs it.
			e, _ := proj.Ladder.Environment(env)
			s, err := st.GetSnapshot(ctx, id)
			if err != nil {
				return nil, err
			}
			if err := (&Admitter{Store: st}).Admit(ctx, e, s, grant, by); err != nil {
				return nil, err
			}
			r.deploys = append(r.deploys, env+"@"+snapshot.Short(id))
			rel := r.release(env, id, time.Now())
			return &api.DeployResult{Environment: env, Snapshot: id, Release: rel}, nil
		},
	}
	return r
}

// release records a succeeded release of id on env finished at `at`.
func (r *rig) release(env, id string, at time.Time) int64 {
	r.t.Helper()
	ctx := context.Background()
	rel, err := r.st.CreateRelease(ctx, store.Release{Env: env, Site: "default", Snapshot: id, Phase: store.PhaseProgressing, Started: at})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.st.FinishRelease(ctx, rel.ID, store.PhaseSucceeded, "", at); err != nil {
		r.t.Fatal(err)
	}
	return rel.ID
}

func TestPromoteRecoversAnInterruptedPromotion(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.release("local", r.snap.ID, time.Now().Add(-time.Hour))
	// A ladder process died mid-promotion: its promotion is still open.
	stale, err := r.st.CreatePromotion(ctx, store.Promotion{Snapshot: r.snap.ID, From: "local", To: "dev", Phase: store.PromotionRunning, By: "ghost"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.p.Promote(ctx, Request{Snapshot: r.snap.ID[:8], To: "dev", By: "ana"})
	if err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if res.Promotion.Phase != store.PromotionSucceeded || len(r.deploys) != 1 || r.deploys[0] != "dev@"+snapshot.Short(r.snap.ID) {
		t.Fatalf("promotion %+v, deploys %v", res.Promotion, r.deploys)
	}
	old, err := r.st.GetPromotion(ctx, stale.ID)
	if err != nil {
		t.Fatal(err)
	}
	if old.Phase != store.PromotionFailed || !strings.Contains(old.Reason, "interrupted") {
		t.Errorf("the interrupted promotion is %s (%s), want failed as interrupted", old.Phase, old.Reason)
	}
	audit, _ := r.st.ListAudit(ctx, store.AuditFilter{Action: "promote"})
	outcomes := map[string]bool{}
	for _, e := range audit {
		outcomes[e.Outcome] = true
	}
	for _, want := range []string{"interrupted", "requested", "succeeded"} {
		if !outcomes[want] {
			t.Errorf("audit lacks a promote %s entry: %+v", want, audit)
		}
	}
}

func TestPromoteSerialisedByLease(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.release("local", r.snap.ID, time.Now().Add(-time.Hour))
	// Another live process holds dev's lease.
	other := store.Holder{Host: "elsewhere", PID: 7, Instance: "other"}
	if _, err := r.st.AcquireLease(ctx, "env/dev", other, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	_, err := r.p.Promote(ctx, Request{Snapshot: r.snap.ID, To: "dev", By: "ana"})
	var locked *LockedError
	if !errors.As(err, &locked) || locked.Env != "dev" || locked.Holder.Holder != other {
		t.Fatalf("want a LockedError for dev naming its holder, got %v", err)
	}
	if len(r.deploys) != 0 {
		t.Errorf("a locked promotion deployed: %v", r.deploys)
	}
}

func TestRollbackPicksTheLastKnownGood(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	bad := snapshot.New("shop", strings.Repeat("2", 64), r.snap.Artifacts, "", time.Now())
	if _, err := r.st.PutSnapshot(ctx, bad); err != nil {
		t.Fatal(err)
	}
	// The good one ran on dev long enough to pass dev's (staging-less)
	// soak; the bad one is current.
	r.release("dev", r.snap.ID, time.Now().Add(-time.Hour))
	if err := r.p.RefreshKnownGood(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	r.release("dev", bad.ID, time.Now())
	res, err := r.p.Rollback(ctx, "dev", "", "ana", "errors")
	if err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if res.To.ID != r.snap.ID || res.From != bad.ID || len(r.deploys) != 1 {
		t.Fatalf("rolled back from %s to %s (deploys %v), want from the bad to the good", snapshot.Short(res.From), snapshot.Short(res.To.ID), r.deploys)
	}
	// --to a snapshot that never ran there is refused.
	never := snapshot.New("shop", strings.Repeat("3", 64), r.snap.Artifacts, "", time.Now())
	if _, err := r.st.PutSnapshot(ctx, never); err != nil {
		t.Fatal(err)
	}
	if _, err := r.p.Rollback(ctx, "dev", never.ID, "ana", ""); err == nil || !strings.Contains(err.Error(), "never ran") {
		t.Errorf("rollback to a snapshot that never ran: %v", err)
	}
}

// A rung with a registry gets the snapshot's images pushed before it is
// deployed; a failed push fails the promotion and deploys nothing.
func TestPromoteToARungWithARegistryPushesFirst(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.p.Project.Ladder.Environments[1].Registry = &spec.Registry{Address: "127.0.0.1:5000/team"}
	r.release("local", r.snap.ID, time.Now().Add(-time.Hour))
	var pushes []string
	fail := errors.New("registry down")
	r.p.Push = func(ctx context.Context, env *spec.Environment, s *snapshot.Snapshot) error {
		pushes = append(pushes, env.Name+"@"+snapshot.Short(s.ID))
		if len(pushes) == 1 {
			return fail
		}
		return nil
	}
	res, err := r.p.Promote(ctx, Request{Snapshot: r.snap.ID, To: "dev", By: "ana"})
	if !errors.Is(err, fail) || !strings.Contains(err.Error(), "127.0.0.1:5000/team") || len(r.deploys) != 0 {
		t.Fatalf("promotion with a failing push: %v, deploys %v; want it failed naming the registry, nothing deployed", err, r.deploys)
	}
	if res.Promotion.Phase != store.PromotionFailed {
		t.Errorf("promotion phase %s, want failed", res.Promotion.Phase)
	}
	if _, err := r.p.Promote(ctx, Request{Snapshot: r.snap.ID, To: "dev", By: "ana"}); err != nil {
		t.Fatal(err)
	}
	want := "dev@" + snapshot.Short(r.snap.ID)
	if len(pushes) != 2 || pushes[1] != want || len(r.deploys) != 1 || r.deploys[0] != want {
		t.Errorf("pushes %v deploys %v, want a push then the deploy of %s", pushes, r.deploys, want)
	}
	// A rung without a registry is never pushed to.
	r.p.Project.Ladder.Environments[1].Registry = nil
	r.p.Push = func(context.Context, *spec.Environment, *snapshot.Snapshot) error {
		t.Error("pushed to a rung without a registry")
		return nil
	}
	if _, err := r.p.Rollback(ctx, "dev", r.snap.ID, "ana", ""); err != nil {
		t.Fatal(err)
	}
}

// A promotion or rollback sent with an If-Match runs only while the rung
// is in the state it names, checked under the rung's lease: a stale tag is
// a *PreconditionError, and nothing is recorded or deployed.
func TestIfMatchGuardsPromoteAndRollback(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.release("local", r.snap.ID, time.Now().Add(-time.Hour))
	before, err := EnvTag(ctx, r.st, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if before != `"dev.0"` {
		t.Errorf("the tag of a rung with no release is %s, want \"dev.0\"", before)
	}
	r.p.IfMatch = before
	if _, err := r.p.Promote(ctx, Request{Snapshot: r.snap.ID, To: "dev", By: "ana"}); err != nil {
		t.Fatalf("promote with the current tag: %v", err)
	}
	after, _ := EnvTag(ctx, r.st, "dev")
	if after == before {
		t.Fatalf("the tag %s did not change with a release", after)
	}
	promotions := func() int {
		ps, err := r.st.ListPromotions(ctx, store.PromotionFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}
	n, deploys := promotions(), len(r.deploys)
	cases := []struct {
		name    string
		ifMatch string
		run     func() error
	}{
		{"PromoteStale", before, func() error {
			_, err := r.p.Promote(ctx, Request{Snapshot: r.snap.ID, To: "dev", By: "ana"})
			return err
		}},
		{"RollbackStale", before, func() error {
			_, err := r.p.Rollback(ctx, "dev", r.snap.ID, "ana", "")
			return err
		}},
		{"PromoteOtherRungsTag", `"local.1", "dev.999"`, func() error {
			_, err := r.p.Promote(ctx, Request{Snapshot: r.snap.ID, To: "dev", By: "ana"})
			return err
		}},
	}
	for _, tc := range cases {
		r.p.IfMatch = tc.ifMatch
		err := tc.run()
		var pe *PreconditionError
		if !errors.As(err, &pe) || pe.Env != "dev" || pe.Now != after {
			t.Errorf("%s: %v, want a precondition failure naming dev now at %s", tc.name, err, after)
		}
	}
	if promotions() != n || len(r.deploys) != deploys {
		t.Errorf("refused changes recorded promotions (%d, was %d) or deployed (%v)", promotions(), n, r.deploys)
	}
	// The current tag, any, or a list that holds the current one.
	for _, ifMatch := range []func(now string) string{
		func(now string) string { return now },
		func(string) string { return "*" },
		func(now string) string { return `"x", ` + now },
	} {
		now, _ := EnvTag(ctx, r.st, "dev")
		r.p.IfMatch = ifMatch(now)
		if _, err := r.p.Rollback(ctx, "dev", r.snap.ID, "ana", ""); err != nil {
			t.Errorf("rollback with If-Match %s: %v", r.p.IfMatch, err)
		}
	}
}
