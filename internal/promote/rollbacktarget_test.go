package promote

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// TestRollbackTarget: a rung that has only ever run one snapshot (or whose
// only known-good release is the one it runs) has nothing to roll back
// to; once another snapshot runs, the known-good one is the target, as
// Rollback would pick it.
func TestRollbackTarget(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	target := func() string {
		t.Helper()
		id, err := r.p.RollbackTarget(ctx, "dev")
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	if id := target(); id != "" {
		t.Errorf("nothing ran on dev, yet the target is %s", snapshot.Short(id))
	}
	r.release("dev", r.snap.ID, time.Now().Add(-time.Hour))
	if err := r.p.RefreshKnownGood(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	if id := target(); id != "" {
		t.Errorf("dev runs its only known-good snapshot, yet the target is %s", snapshot.Short(id))
	}
	next := snapshot.New("shop", strings.Repeat("2", 64), r.snap.Artifacts, "", time.Now())
	if _, err := r.st.PutSnapshot(ctx, next); err != nil {
		t.Fatal(err)
	}
	r.release("dev", next.ID, time.Now())
	if id := target(); id != r.snap.ID {
		t.Errorf("target = %q, want the known-good %s", id, snapshot.Short(r.snap.ID))
	}
	// A failed release of a third snapshot leaves next running: the
	// target is still the known-good one, not what runs already.
	third := snapshot.New("shop", strings.Repeat("3", 64), r.snap.Artifacts, "", time.Now())
	if _, err := r.st.PutSnapshot(ctx, third); err != nil {
		t.Fatal(err)
	}
	rel, err := r.st.CreateRelease(ctx, store.Release{Env: "dev", Site: "default", Snapshot: third.ID, Phase: store.PhaseProgressing, Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.st.FinishRelease(ctx, rel.ID, store.PhaseFailed, "never healthy", time.Now()); err != nil {
		t.Fatal(err)
	}
	if id := target(); id != r.snap.ID {
		t.Errorf("after a failed release, target = %q, want the known-good %s", id, snapshot.Short(r.snap.ID))
	}
	// With only the running snapshot known-good, there is nothing to roll
	// back to even though the latest release failed.
	r2 := newRig(t)
	r2.release("dev", r2.snap.ID, time.Now().Add(-time.Hour))
	if err := r2.p.RefreshKnownGood(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	rel, err = r2.st.CreateRelease(ctx, store.Release{Env: "dev", Site: "default", Snapshot: third.ID, Phase: store.PhaseProgressing, Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.st.FinishRelease(ctx, rel.ID, store.PhaseFailed, "never healthy", time.Now()); err != nil {
		t.Fatal(err)
	}
	if id, err := r2.p.RollbackTarget(ctx, "dev"); err != nil || id != "" {
		t.Errorf("dev runs its only known-good snapshot after a failed release, yet the target is %q (%v)", id, err)
	}
	if _, err := r.p.RollbackTarget(ctx, "nope"); err == nil {
		t.Error("an unknown environment has no rollback target, and says so")
	}
}
