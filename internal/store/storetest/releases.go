package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

var releaseTests = []test{
	{"CreateGet", testReleaseCreateGet},
	{"CreateDefaults", testReleaseDefaults},
	{"Finish", testReleaseFinish},
	{"FinishTwiceConflicts", testReleaseFinishTwice},
	{"Unknown", testReleaseUnknown},
	{"ListFilters", testReleaseList},
	{"SiteHeads", testSiteHeads},
	{"Running", testRunning},
	{"VerdictKeptOnce", testReleaseVerdict},
	{"NumberedPerEnvironment", testReleaseNumbers},
	{"ConcurrentNumbersAreDistinct", testReleaseNumbersConcurrent},
	{"AdvanceIsCompareAndSet", testReleaseAdvance},
	{"TransitionsRecorded", testReleaseTransitions},
}

func testReleaseCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := store.Release{
		Env: "prod", Site: "eu-1", Snapshot: hexOf("snap"), Phase: store.PhaseProgressing,
		Reason: "rollout", Owner: "host-a:4242", Target: "compose", Engine: "tcp://127.0.0.1:2376",
		SecretFingerprints: map[string]string{"api/DB_PASSWORD": "hmac-sha256:k1:" + hexOf("pw")},
		Started:            time.Date(2025, 3, 14, 10, 26, 53, 589_793_238, time.FixedZone("CET", 3600)),
	}
	got, err := s.CreateRelease(ctx, in)
	must(t, "CreateRelease", err)
	if got.ID <= 0 {
		t.Fatalf("CreateRelease: ID = %d, want > 0", got.ID)
	}
	want := in
	want.ID, want.Number = got.ID, 1 // the first release of prod
	want.Started = base              // in.Started at millisecond precision, in UTC
	equal(t, "CreateRelease result", got, want)

	back, err := s.GetRelease(ctx, got.ID)
	must(t, "GetRelease", err)
	equal(t, "GetRelease", back, want)

	second, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "eu-1", Snapshot: hexOf("snap2"),
		Phase: store.PhaseProgressing, Started: at(1)})
	must(t, "CreateRelease second", err)
	if second.ID <= got.ID {
		t.Errorf("second release ID %d not after first %d", second.ID, got.ID)
	}
}

// testReleaseDefaults pins what CreateRelease fills in: a zero Started
// becomes now and an empty Phase becomes progressing.
func testReleaseDefaults(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now()
	got, err := s.CreateRelease(ctx, store.Release{Env: "dev", Site: "local", Snapshot: hexOf("s")})
	after := time.Now()
	must(t, "CreateRelease", err)
	within(t, "CreateRelease Started", got.Started, before, after)
	if got.Phase != store.PhaseProgressing {
		t.Errorf("CreateRelease Phase = %q, want %q", got.Phase, store.PhaseProgressing)
	}
	back, err := s.GetRelease(ctx, got.ID)
	must(t, "GetRelease", err)
	equal(t, "GetRelease", back, got)
}

func testReleaseFinish(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, phase := range []store.Phase{store.PhaseSucceeded, store.PhaseFailed, store.PhaseInterrupted} {
		r, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "eu-1", Snapshot: hexOf("s"),
			Phase: store.PhaseProgressing, Owner: "host:1", Started: at(i)})
		must(t, "CreateRelease", err)
		reason := fmt.Sprintf("reason %d", i)
		finished := time.Date(2025, 3, 14, 10, 30, i, 123_456_789, time.FixedZone("CET", 3600))
		must(t, "FinishRelease "+string(phase), s.FinishRelease(ctx, r.ID, phase, reason, finished))

		want := r
		want.Phase, want.Reason = phase, reason
		want.Finished = time.Date(2025, 3, 14, 9, 30, i, 123_000_000, time.UTC)
		got, err := s.GetRelease(ctx, r.ID)
		must(t, "GetRelease", err)
		equal(t, "GetRelease after finish "+string(phase), got, want)
	}

	// A phase that is not terminal is refused and changes nothing.
	r, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "eu-1", Phase: store.PhaseProgressing, Started: at(9)})
	must(t, "CreateRelease", err)
	for _, p := range []store.Phase{store.PhaseProgressing, "", "bogus"} {
		if err := s.FinishRelease(ctx, r.ID, p, "nope", at(10)); err == nil {
			t.Errorf("FinishRelease with phase %q: no error", p)
		}
	}
	got, err := s.GetRelease(ctx, r.ID)
	must(t, "GetRelease", err)
	equal(t, "GetRelease after refused finishes", got, r)
}

func testReleaseFinishTwice(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "eu-1", Phase: store.PhaseProgressing, Started: at(0)})
	must(t, "CreateRelease", err)
	must(t, "FinishRelease", s.FinishRelease(ctx, r.ID, store.PhaseFailed, "health check", at(5)))
	for _, p := range []store.Phase{store.PhaseFailed, store.PhaseSucceeded, store.PhaseInterrupted} {
		err := s.FinishRelease(ctx, r.ID, p, "again", at(6))
		isErr(t, "second FinishRelease "+string(p), err, store.ErrConflict)
	}
	want := r
	want.Phase, want.Reason, want.Finished = store.PhaseFailed, "health check", at(5)
	got, err := s.GetRelease(ctx, r.ID)
	must(t, "GetRelease", err)
	equal(t, "GetRelease after second finish", got, want)

	// Created already terminal: finishing it is a conflict too.
	done, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "eu-1", Phase: store.PhaseSucceeded,
		Started: at(7), Finished: at(8)})
	must(t, "CreateRelease terminal", err)
	isErr(t, "FinishRelease of a release created terminal",
		s.FinishRelease(ctx, done.ID, store.PhaseFailed, "x", at(9)), store.ErrConflict)
}

func testReleaseUnknown(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "eu-1", Phase: store.PhaseProgressing, Started: at(0)})
	must(t, "CreateRelease", err)
	for _, id := range []int64{r.ID + 1, r.ID + 1000, 0, -1} {
		_, err := s.GetRelease(ctx, id)
		isErr(t, fmt.Sprintf("GetRelease %d", id), err, store.ErrNotFound)
		err = s.FinishRelease(ctx, id, store.PhaseSucceeded, "", at(1))
		isErr(t, fmt.Sprintf("FinishRelease %d", id), err, store.ErrNotFound)
	}
}

func testReleaseList(t *testing.T, s store.Store) {
	ctx := t.Context()
	snapA, snapB := hexOf("a"), hexOf("b")
	specs := []releaseSpec{
		{"prod", "eu-1", snapA, store.PhaseSucceeded},      // 0
		{"prod", "us-1", snapA, store.PhaseSucceeded},      // 1
		{"prod", "eu-1", snapB, store.PhaseFailed},         // 2
		{"staging", "eu-1", snapB, store.PhaseSucceeded},   // 3
		{"prod", "eu-1", snapB, ""},                        // 4: still progressing
		{"staging", "us-1", snapA, store.PhaseInterrupted}, // 5
	}
	rels := recordReleases(t, s, specs)
	// pick lists releases by index, newest first as ListReleases must.
	pick := func(idx ...int) []store.Release {
		out := []store.Release{}
		for _, i := range idx {
			out = append(out, rels[i])
		}
		return out
	}
	cases := []struct {
		name string
		f    store.ReleaseFilter
		want []store.Release
	}{
		{"All", store.ReleaseFilter{}, pick(5, 4, 3, 2, 1, 0)},
		{"Env", store.ReleaseFilter{Env: "prod"}, pick(4, 2, 1, 0)},
		{"Site", store.ReleaseFilter{Site: "eu-1"}, pick(4, 3, 2, 0)},
		{"EnvSite", store.ReleaseFilter{Env: "prod", Site: "eu-1"}, pick(4, 2, 0)},
		{"Snapshot", store.ReleaseFilter{Snapshot: snapA}, pick(5, 1, 0)},
		{"Phase", store.ReleaseFilter{Phase: store.PhaseSucceeded}, pick(3, 1, 0)},
		{"PhaseProgressing", store.ReleaseFilter{Phase: store.PhaseProgressing}, pick(4)},
		{"AllFields", store.ReleaseFilter{Env: "prod", Site: "eu-1", Snapshot: snapB, Phase: store.PhaseFailed}, pick(2)},
		{"Limit", store.ReleaseFilter{Limit: 2}, pick(5, 4)},
		{"EnvLimit", store.ReleaseFilter{Env: "prod", Limit: 3}, pick(4, 2, 1)},
		{"LimitAboveCount", store.ReleaseFilter{Env: "staging", Limit: 10}, pick(5, 3)},
		{"NegativeLimit", store.ReleaseFilter{Env: "staging", Limit: -1}, pick(5, 3)},
		{"Before", store.ReleaseFilter{BeforeID: rels[4].ID}, pick(3, 2, 1, 0)},
		{"BeforeLimit", store.ReleaseFilter{BeforeID: rels[4].ID, Limit: 2}, pick(3, 2)},
		{"EnvBeforeLimit", store.ReleaseFilter{Env: "prod", BeforeID: rels[2].ID, Limit: 1}, pick(1)},
		{"BeforeFirst", store.ReleaseFilter{BeforeID: rels[0].ID}, pick()},
		{"NoMatch", store.ReleaseFilter{Env: "qa"}, pick()},
		{"NoMatchCombination", store.ReleaseFilter{Env: "staging", Snapshot: snapB, Phase: store.PhaseFailed}, pick()},
	}
	for _, tc := range cases {
		got, err := s.ListReleases(ctx, tc.f)
		must(t, "ListReleases "+tc.name, err)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		equal(t, "ListReleases "+tc.name, got, tc.want)
	}
}

// testSiteHeads pins where each site stands: its newest release in any
// phase, and the snapshot of its newest succeeded one, per environment.
func testSiteHeads(t *testing.T, s store.Store) {
	ctx := t.Context()
	snapA, snapB, snapC := hexOf("a"), hexOf("b"), hexOf("c")
	specs := []releaseSpec{
		{"prod", "eu-1", snapA, store.PhaseSucceeded},    // 0
		{"prod", "us-1", snapA, store.PhaseSucceeded},    // 1
		{"prod", "eu-1", snapB, store.PhaseSucceeded},    // 2
		{"staging", "eu-1", snapC, store.PhaseSucceeded}, // 3: another environment
		{"prod", "eu-1", snapC, store.PhaseFailed},       // 4
		{"prod", "us-1", snapB, ""},                      // 5: still progressing
		{"prod", "ap-1", snapB, store.PhaseInterrupted},  // 6: never succeeded
	}
	rels := recordReleases(t, s, specs)
	cases := []struct {
		env  string
		want []store.SiteHead
	}{
		{"prod", []store.SiteHead{
			{Site: "ap-1", Latest: rels[6]},
			{Site: "eu-1", Latest: rels[4], Current: snapB},
			{Site: "us-1", Latest: rels[5], Current: snapA},
		}},
		{"staging", []store.SiteHead{{Site: "eu-1", Latest: rels[3], Current: snapC}}},
		{"dev", nil},
	}
	for _, tc := range cases {
		got, err := s.SiteHeads(ctx, tc.env)
		must(t, "SiteHeads "+tc.env, err)
		equalList(t, "SiteHeads "+tc.env, got, tc.want)
		// The heads agree with what ListReleases answers site by site.
		for _, h := range got {
			rel, err := s.ListReleases(ctx, store.ReleaseFilter{Env: tc.env, Site: h.Site, Limit: 1})
			must(t, "ListReleases", err)
			equal(t, "newest release of "+tc.env+"/"+h.Site, h.Latest, rel[0])
		}
	}
}

// testRunning pins what every site runs: the snapshot of its newest
// succeeded release and the target that release ran on, across
// environments, never one still under way, failed or interrupted.
func testRunning(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.Running(ctx)
	must(t, "Running of an empty store", err)
	equalList(t, "Running of an empty store", got, nil)
	snapA, snapB, snapC := hexOf("a"), hexOf("b"), hexOf("c")
	recordReleases(t, s, []releaseSpec{
		{"prod", "eu-1", snapA, store.PhaseSucceeded},
		{"prod", "us-1", snapA, store.PhaseSucceeded},
		{"prod", "eu-1", snapB, store.PhaseSucceeded},
		{"staging", "eu-1", snapC, store.PhaseSucceeded},
		{"prod", "eu-1", snapC, store.PhaseFailed},
		{"prod", "us-1", snapB, ""},
		{"prod", "ap-1", snapB, store.PhaseInterrupted},
		{"dev", "local", snapA, store.PhaseSucceeded},
		{"dev", "local", snapC, store.PhaseSucceeded},
	})
	got, err = s.Running(ctx)
	must(t, "Running", err)
	equalList(t, "Running", got, []store.SiteSnapshot{
		{Env: "dev", Site: "local", Snapshot: snapC},
		{Env: "prod", Site: "eu-1", Snapshot: snapB},
		{Env: "prod", Site: "us-1", Snapshot: snapA},
		{Env: "staging", Site: "eu-1", Snapshot: snapC},
	})

	// The target is the newest succeeded release's, not a failed one's.
	for i, rel := range []struct {
		snap, target string
		finish       store.Phase
	}{{snapA, "process", store.PhaseSucceeded}, {snapB, "compose", store.PhaseFailed}} {
		r, err := s.CreateRelease(ctx, store.Release{Env: "dev", Site: "local", Snapshot: rel.snap, Target: rel.target,
			Phase: store.PhaseProgressing, Started: at(200 + i)})
		must(t, "CreateRelease", err)
		must(t, "FinishRelease", s.FinishRelease(ctx, r.ID, rel.finish, "", at(300+i)))
	}
	got, err = s.Running(ctx)
	must(t, "Running", err)
	equal(t, "Running of dev/local", got[0], store.SiteSnapshot{Env: "dev", Site: "local", Snapshot: snapA, Target: "process"})
}

// testReleaseVerdict pins RecordVerdict: the first verdict stays with the
// release, in every read of it; an unknown release is ErrNotFound.
func testReleaseVerdict(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, err := s.CreateRelease(ctx, store.Release{Env: "prod", Site: "eu-1", Snapshot: hexOf("v"), Started: at(0)})
	must(t, "CreateRelease", err)
	if r.Verdict != "" {
		t.Errorf("a new release has verdict %q", r.Verdict)
	}
	must(t, "FinishRelease", s.FinishRelease(ctx, r.ID, store.PhaseSucceeded, "", at(1)))
	must(t, "RecordVerdict", s.RecordVerdict(ctx, r.ID, "soaked 10m: healthy"))
	must(t, "RecordVerdict again", s.RecordVerdict(ctx, r.ID, "a second opinion"))
	got, err := s.GetRelease(ctx, r.ID)
	must(t, "GetRelease", err)
	if got.Verdict != "soaked 10m: healthy" {
		t.Errorf("GetRelease verdict %q, want the first one", got.Verdict)
	}
	list, err := s.ListReleases(ctx, store.ReleaseFilter{Env: "prod"})
	must(t, "ListReleases", err)
	if len(list) != 1 || list[0].Verdict != got.Verdict {
		t.Errorf("ListReleases %+v, want the release with its verdict", list)
	}
	heads, err := s.SiteHeads(ctx, "prod")
	must(t, "SiteHeads", err)
	if len(heads) != 1 || heads[0].Latest.Verdict != got.Verdict {
		t.Errorf("SiteHeads %+v, want the release with its verdict", heads)
	}
	if err := s.RecordVerdict(ctx, r.ID+1000, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecordVerdict of an unknown release: %v, want ErrNotFound", err)
	}
}

// releaseSpec is a release to record: started at its index's time, then
// finished in finish (none: still progressing).
type releaseSpec struct {
	env, site, snap string
	finish          store.Phase
}

// recordReleases records specs in order and returns them as the store
// gave them back, finished as each says.
func recordReleases(t *testing.T, s store.Store, specs []releaseSpec) []store.Release {
	t.Helper()
	ctx := t.Context()
	var rels []store.Release
	for i, sp := range specs {
		r, err := s.CreateRelease(ctx, store.Release{Env: sp.env, Site: sp.site, Snapshot: sp.snap,
			Phase: store.PhaseProgressing, Started: at(i)})
		must(t, "CreateRelease", err)
		if sp.finish != "" {
			must(t, "FinishRelease", s.FinishRelease(ctx, r.ID, sp.finish, "", at(i+100)))
			r.Phase, r.Finished = sp.finish, at(i+100)
		}
		rels = append(rels, r)
	}
	return rels
}
