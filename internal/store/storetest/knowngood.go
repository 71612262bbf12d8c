package storetest

import (
	"fmt"
	"testing"

	"github.com/ladderhq/ladder/internal/store"
)

var knownGoodTests = []test{
	{"ByAndKnownGoodRoundTrip", testReleaseBy},
	{"CreateKnownGoodMustSucceed", testReleaseCreateKnownGood},
	{"MarkOnlySucceeded", testMarkKnownGood},
	{"ListKnownGood", testListKnownGood},
}

// testReleaseBy: By and KnownGood are stored and listed like every other
// field.
func testReleaseBy(t *testing.T, s store.Store) {
	ctx := t.Context()
	ins := []store.Release{
		{Env: "prod", Site: "eu-1", Snapshot: hexOf("a"), Phase: store.PhaseProgressing, Started: at(0),
			Owner: "host:1", By: "alice@example.com"},
		{Env: "prod", Site: "eu-1", Snapshot: hexOf("b"), Phase: store.PhaseSucceeded, Started: at(1),
			Finished: at(2), By: "ci", KnownGood: true},
		{Env: "prod", Site: "eu-1", Snapshot: hexOf("c"), Phase: store.PhaseSucceeded, Started: at(3), Finished: at(4)},
	}
	var want []store.Release
	for i, in := range ins {
		got, err := s.CreateRelease(ctx, in)
		must(t, "CreateRelease", err)
		in.ID, in.Number = got.ID, int64(i+1)
		equal(t, "CreateRelease result", got, in)
		back, err := s.GetRelease(ctx, got.ID)
		must(t, "GetRelease", err)
		equal(t, "GetRelease", back, in)
		want = append([]store.Release{in}, want...)
	}
	list, err := s.ListReleases(ctx, store.ReleaseFilter{})
	must(t, "ListReleases", err)
	equal(t, "ListReleases", list, want)
}

// testReleaseCreateKnownGood: only a release created succeeded may be
// created known-good; anything else is refused and not recorded.
func testReleaseCreateKnownGood(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, phase := range []store.Phase{"", store.PhaseProgressing, store.PhaseFailed, store.PhaseInterrupted} {
		_, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "eu-1", Phase: phase, Started: at(0),
			Finished: at(1), KnownGood: true})
		if err == nil {
			t.Errorf("CreateRelease known-good with phase %q: no error", phase)
		}
	}
	list, err := s.ListReleases(ctx, store.ReleaseFilter{})
	must(t, "ListReleases", err)
	equalList(t, "ListReleases after refused creates", list, nil)
}

// testMarkKnownGood: only a succeeded release can be marked; others are
// ErrConflict, unknown IDs ErrNotFound, and marking twice is fine.
func testMarkKnownGood(t *testing.T, s store.Store) {
	ctx := t.Context()
	cases := []struct {
		name    string
		finish  store.Phase // "" leaves the release progressing
		wantErr error
	}{
		{"Succeeded", store.PhaseSucceeded, nil},
		{"Progressing", "", store.ErrConflict},
		{"Failed", store.PhaseFailed, store.ErrConflict},
		{"Interrupted", store.PhaseInterrupted, store.ErrConflict},
	}
	var last int64
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "eu-1", Snapshot: hexOf(tc.name),
				Phase: store.PhaseProgressing, Started: at(i), By: "bob"})
			must(t, "CreateRelease", err)
			last = r.ID
			if tc.finish != "" {
				must(t, "FinishRelease", s.FinishRelease(ctx, r.ID, tc.finish, "r", at(i+10)))
				r.Phase, r.Reason, r.Finished = tc.finish, "r", at(i+10)
			}
			err = s.MarkKnownGood(ctx, r.ID, at(i+20))
			want := r
			if tc.wantErr == nil {
				must(t, "MarkKnownGood", err)
				want.KnownGood = true
				// Marking again is not an error and changes nothing.
				must(t, "MarkKnownGood again", s.MarkKnownGood(ctx, r.ID, at(i+30)))
			} else {
				isErr(t, "MarkKnownGood", err, tc.wantErr)
			}
			got, err := s.GetRelease(ctx, r.ID)
			must(t, "GetRelease", err)
			equal(t, "GetRelease after MarkKnownGood", got, want)
		})
	}
	for _, id := range []int64{last + 1, last + 1000, 0, -1} {
		isErr(t, fmt.Sprintf("MarkKnownGood %d", id), s.MarkKnownGood(ctx, id, at(50)), store.ErrNotFound)
	}
	// A release that became succeeded later can be marked then.
	r, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "eu-1", Started: at(60)})
	must(t, "CreateRelease", err)
	isErr(t, "MarkKnownGood while progressing", s.MarkKnownGood(ctx, r.ID, at(61)), store.ErrConflict)
	must(t, "FinishRelease", s.FinishRelease(ctx, r.ID, store.PhaseSucceeded, "", at(62)))
	must(t, "MarkKnownGood once succeeded", s.MarkKnownGood(ctx, r.ID, at(63)))
	got, err := s.GetRelease(ctx, r.ID)
	must(t, "GetRelease", err)
	equal(t, "KnownGood after marking", got.KnownGood, true)
}

func testListKnownGood(t *testing.T, s store.Store) {
	ctx := t.Context()
	specs := []struct {
		env, site string
		finish    store.Phase
		mark      bool
	}{
		{"prod", "eu-1", store.PhaseSucceeded, true},       // 0
		{"prod", "us-1", store.PhaseSucceeded, true},       // 1
		{"prod", "eu-1", store.PhaseSucceeded, false},      // 2: succeeded, not (yet) known-good
		{"staging", "eu-1", store.PhaseSucceeded, true},    // 3
		{"prod", "eu-1", store.PhaseFailed, false},         // 4
		{"prod", "eu-1", store.PhaseSucceeded, true},       // 5
		{"prod", "eu-1", "", false},                        // 6: progressing
		{"staging", "us-1", store.PhaseInterrupted, false}, // 7
	}
	var rels []store.Release
	for i, sp := range specs {
		r, err := s.CreateRelease(ctx, store.Release{Env: sp.env, Site: sp.site, Snapshot: hexOf(itoa(i)),
			Started: at(i), By: "u" + itoa(i)})
		must(t, "CreateRelease", err)
		if sp.finish != "" {
			must(t, "FinishRelease", s.FinishRelease(ctx, r.ID, sp.finish, "", at(i+100)))
			r.Phase, r.Finished = sp.finish, at(i+100)
		}
		if sp.mark {
			must(t, "MarkKnownGood", s.MarkKnownGood(ctx, r.ID, at(i+200)))
			r.KnownGood = true
		}
		rels = append(rels, r)
	}
	cases := []struct {
		name string
		f    store.ReleaseFilter
		want []store.Release
	}{
		{"All", store.ReleaseFilter{}, choose(rels, 7, 6, 5, 4, 3, 2, 1, 0)},
		{"KnownGood", store.ReleaseFilter{KnownGood: true}, choose(rels, 5, 3, 1, 0)},
		{"KnownGoodEnv", store.ReleaseFilter{KnownGood: true, Env: "prod"}, choose(rels, 5, 1, 0)},
		{"KnownGoodEnvSite", store.ReleaseFilter{KnownGood: true, Env: "prod", Site: "eu-1"}, choose(rels, 5, 0)},
		{"RollbackTarget", store.ReleaseFilter{KnownGood: true, Env: "prod", Site: "eu-1", Limit: 1}, choose(rels, 5)},
		{"KnownGoodSnapshot", store.ReleaseFilter{KnownGood: true, Snapshot: hexOf("3")}, choose(rels, 3)},
		{"KnownGoodPhase", store.ReleaseFilter{KnownGood: true, Phase: store.PhaseSucceeded, Site: "us-1"}, choose(rels, 1)},
		{"KnownGoodLimit", store.ReleaseFilter{KnownGood: true, Limit: 3}, choose(rels, 5, 3, 1)},
		{"NotKnownGoodSnapshot", store.ReleaseFilter{KnownGood: true, Snapshot: hexOf("2")}, nil},
		{"KnownGoodNoMatch", store.ReleaseFilter{KnownGood: true, Env: "staging", Site: "us-1"}, nil},
	}
	for _, tc := range cases {
		got, err := s.ListReleases(ctx, tc.f)
		must(t, "ListReleases "+tc.name, err)
		equalList(t, "ListReleases "+tc.name, got, tc.want)
	}
}
