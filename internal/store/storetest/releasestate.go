package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/ladderhq/ladder/internal/store"
)

// testReleaseNumbers: each environment counts its own releases 1, 2, 3,
// ... while IDs stay global.
func testReleaseNumbers(t *testing.T, s store.Store) {
	ctx := t.Context()
	envs := []string{"local", "local", "dev", "local", "dev", "prod"}
	want := []int64{1, 2, 1, 3, 2, 1}
	var lastID int64
	for i, env := range envs {
		r, err := s.CreateRelease(ctx, store.Release{Env: env, Site: "a", Snapshot: hexOf("s"), Started: at(i)})
		must(t, "CreateRelease "+env, err)
		equal(t, fmt.Sprintf("release %d (%s) number", i, env), r.Number, want[i])
		if r.ID <= lastID {
			t.Errorf("release %d: ID %d not after %d", i, r.ID, lastID)
		}
		lastID = r.ID
		back, err := s.GetRelease(ctx, r.ID)
		must(t, "GetRelease", err)
		equal(t, "GetRelease number", back.Number, want[i])
	}
}

// testReleaseNumbersConcurrent: releases created at once for one
// environment get distinct numbers 1..n.
func testReleaseNumbersConcurrent(t *testing.T, s store.Store) {
	const n = 8
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got = map[int64]bool{}
	)
	for i := range n {
		wg.Go(func() {
			r, err := s.CreateRelease(t.Context(), store.Release{Env: "dev", Site: fmt.Sprint(i), Snapshot: hexOf("s")})
			if err != nil {
				t.Errorf("CreateRelease %d: %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if got[r.Number] {
				t.Errorf("number %d given twice", r.Number)
			}
			got[r.Number] = true
		})
	}
	wg.Wait()
	for i := int64(1); i <= n; i++ {
		if !got[i] {
			t.Errorf("no release numbered %d; got %v", i, got)
		}
	}
}

// testReleaseAdvance: AdvanceRelease moves a release only from the phase
// the caller saw; of two concurrent movers exactly one wins; moves the
// state machine does not allow are refused.
func testReleaseAdvance(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "a", Snapshot: hexOf("s"), Started: at(0)})
	must(t, "CreateRelease", err)
	if err := s.AdvanceRelease(ctx, r.ID, store.PhaseSucceeded, store.PhaseFailed, "", at(1)); err == nil {
		t.Errorf("AdvanceRelease succeeded -> failed: no error, want a refusal")
	}
	if err := s.AdvanceRelease(ctx, r.ID, store.PhaseProgressing, store.PhaseProgressing, "", at(1)); err == nil {
		t.Errorf("AdvanceRelease progressing -> progressing: no error, want a refusal")
	}
	isErr(t, "AdvanceRelease unknown", s.AdvanceRelease(ctx, r.ID+1000, store.PhaseProgressing, store.PhaseFailed, "", at(1)), store.ErrNotFound)

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins []store.Phase
	)
	for _, to := range []store.Phase{store.PhaseSucceeded, store.PhaseFailed, store.PhaseInterrupted, store.PhaseFailed} {
		wg.Go(func() {
			err := s.AdvanceRelease(ctx, r.ID, store.PhaseProgressing, to, "by "+string(to), at(2))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins = append(wins, to)
			default:
				isErr(t, "losing AdvanceRelease", err, store.ErrConflict)
			}
		})
	}
	wg.Wait()
	if len(wins) != 1 {
		t.Fatalf("concurrent AdvanceRelease winners %v, want exactly one", wins)
	}
	got, err := s.GetRelease(ctx, r.ID)
	must(t, "GetRelease", err)
	equal(t, "phase", got.Phase, wins[0])
	equal(t, "reason", got.Reason, "by "+string(wins[0]))
	equal(t, "finished", got.Finished, at(2))
	isErr(t, "FinishRelease after AdvanceRelease", s.FinishRelease(ctx, r.ID, store.PhaseFailed, "", at(3)), store.ErrConflict)
}

// testReleaseTransitions: every phase change, by AdvanceRelease or
// FinishRelease, is recorded in order with its time and reason.
func testReleaseTransitions(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "a", Snapshot: hexOf("s"), Started: at(0)})
	must(t, "CreateRelease", err)
	b, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "b", Snapshot: hexOf("s"), Started: at(0)})
	must(t, "CreateRelease", err)
	must(t, "AdvanceRelease", s.AdvanceRelease(ctx, a.ID, store.PhaseProgressing, store.PhaseSucceeded, "healthy", at(5)))
	must(t, "FinishRelease", s.FinishRelease(ctx, b.ID, store.PhaseInterrupted, "holder gone", at(7)))

	got, err := s.ReleaseTransitions(ctx, a.ID)
	must(t, "ReleaseTransitions a", err)
	equal(t, "transitions of a", got, []store.ReleaseTransition{
		{Release: a.ID, Seq: 1, From: store.PhaseProgressing, To: store.PhaseSucceeded, Reason: "healthy", At: at(5)}})
	got, err = s.ReleaseTransitions(ctx, b.ID)
	must(t, "ReleaseTransitions b", err)
	equal(t, "transitions of b", got, []store.ReleaseTransition{
		{Release: b.ID, Seq: 1, From: store.PhaseProgressing, To: store.PhaseInterrupted, Reason: "holder gone", At: at(7)}})
	got, err = s.ReleaseTransitions(ctx, b.ID+1000)
	must(t, "ReleaseTransitions unknown", err)
	equal(t, "transitions of an unknown release", len(got), 0)
}
