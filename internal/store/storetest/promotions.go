package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

var promotionTests = []test{
	{"CreateGet", testPromotionCreateGet},
	{"CreateDefaults", testPromotionDefaults},
	{"Lifecycle", testPromotionLifecycle},
	{"TerminalRefusesChange", testPromotionTerminal},
	{"UpdateRefusesUnknownPhase", testPromotionBadPhase},
	{"Unknown", testPromotionUnknown},
	{"ListFilters", testPromotionList},
}

var gateTests = []test{
	{"OrderRecorded", testGateOrder},
	{"DefaultTime", testGateDefaultTime},
	{"UnknownPromotion", testGateUnknown},
}

// choose returns all[i] for each index, in the order given.
func choose[T any](all []T, idx ...int) []T {
	out := []T{}
	for _, i := range idx {
		out = append(out, all[i])
	}
	return out
}

// equalList is equal for lists, where nil and empty are the same answer.
func equalList[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	equal(t, what, got, want)
}

// terminalPromotionPhases and allPromotionPhases are the phases ladder.go
// defines.
var (
	terminalPromotionPhases = []store.PromotionPhase{store.PromotionSucceeded, store.PromotionFailed, store.PromotionBlocked}
	allPromotionPhases      = append([]store.PromotionPhase{store.PromotionPending, store.PromotionRunning}, terminalPromotionPhases...)
)

func newPromotion(snap, from, to string, i int) store.Promotion {
	return store.Promotion{Snapshot: snap, From: from, To: to, Phase: store.PromotionPending,
		By: fmt.Sprintf("user%d@example.com", i), Why: fmt.Sprintf("ticket %d", i), Created: at(i), Updated: at(i)}
}

func testPromotionCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	cet := time.FixedZone("CET", 3600)
	in := store.Promotion{
		Snapshot: hexOf("snap"), From: "staging", To: "prod", Phase: store.PromotionPending,
		Reason: "awaiting 2 approvals", By: "alice@example.com", Why: "release 1.4 ✓",
		Created: time.Date(2025, 3, 14, 10, 26, 53, 589_793_238, cet),
		Updated: time.Date(2025, 3, 14, 10, 26, 54, 589_999_999, cet),
	}
	got, err := s.CreatePromotion(ctx, in)
	must(t, "CreatePromotion", err)
	if got.ID <= 0 {
		t.Fatalf("CreatePromotion: ID = %d, want > 0", got.ID)
	}
	want := in
	want.ID, want.Created, want.Updated = got.ID, base, at(1)
	equal(t, "CreatePromotion result", got, want)
	back, err := s.GetPromotion(ctx, got.ID)
	must(t, "GetPromotion", err)
	equal(t, "GetPromotion", back, want)

	second, err := s.CreatePromotion(ctx, newPromotion(hexOf("snap2"), "dev", "staging", 2))
	must(t, "CreatePromotion second", err)
	if second.ID <= got.ID {
		t.Errorf("second promotion ID %d not after first %d", second.ID, got.ID)
	}
}

// testPromotionDefaults pins what CreatePromotion fills in: Created now,
// Updated = Created, Phase pending; and that it refuses an unknown phase.
func testPromotionDefaults(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now()
	got, err := s.CreatePromotion(ctx, store.Promotion{Snapshot: hexOf("s"), From: "dev", To: "staging"})
	after := time.Now()
	must(t, "CreatePromotion", err)
	within(t, "CreatePromotion Created", got.Created, before, after)
	equal(t, "CreatePromotion Updated", got.Updated, got.Created)
	equal(t, "CreatePromotion Phase", got.Phase, store.PromotionPending)
	back, err := s.GetPromotion(ctx, got.ID)
	must(t, "GetPromotion", err)
	equal(t, "GetPromotion", back, got)

	if _, err := s.CreatePromotion(ctx, store.Promotion{Snapshot: hexOf("s"), To: "prod", Phase: "bogus"}); err == nil {
		t.Error("CreatePromotion with phase bogus: no error")
	}
	list, err := s.ListPromotions(ctx, store.PromotionFilter{})
	must(t, "ListPromotions", err)
	equal(t, "ListPromotions after refused create", list, []store.Promotion{got})
}

func testPromotionLifecycle(t *testing.T, s store.Store) {
	type step struct {
		phase  store.PromotionPhase
		reason string
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"PendingPromotingSucceeded", []step{{store.PromotionRunning, "gates passed"}, {store.PromotionSucceeded, ""}}},
		{"PromotingFailed", []step{{store.PromotionRunning, ""}, {store.PromotionFailed, "health check failed"}}},
		{"Blocked", []step{{store.PromotionBlocked, "gate tests failed"}}},
		{"StaysPendingThenRuns", []step{{store.PromotionPending, "1/2 approvals"}, {store.PromotionPending, "2/2 approvals"},
			{store.PromotionRunning, "deploying"}}},
		{"RunningBackToPending", []step{{store.PromotionRunning, ""}, {store.PromotionPending, "retry"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			p, err := s.CreatePromotion(ctx, newPromotion(hexOf(tc.name), "staging", "prod", 0))
			must(t, "CreatePromotion", err)
			want := p
			for i, st := range tc.steps {
				// Given with a zone and below a millisecond: stored as UTC ms.
				when := at(10 + i).In(time.FixedZone("X", -7200)).Add(999_999)
				must(t, fmt.Sprintf("UpdatePromotion %d to %s", i, st.phase),
					s.UpdatePromotion(ctx, p.ID, st.phase, st.reason, when))
				want.Phase, want.Reason, want.Updated = st.phase, st.reason, at(10+i)
				got, err := s.GetPromotion(ctx, p.ID)
				must(t, "GetPromotion", err)
				equal(t, fmt.Sprintf("GetPromotion after step %d", i), got, want)
			}
		})
	}

	// A zero time is now.
	ctx := t.Context()
	p, err := s.CreatePromotion(ctx, newPromotion(hexOf("now"), "staging", "prod", 0))
	must(t, "CreatePromotion", err)
	before := time.Now()
	must(t, "UpdatePromotion zero time", s.UpdatePromotion(ctx, p.ID, store.PromotionRunning, "", time.Time{}))
	after := time.Now()
	got, err := s.GetPromotion(ctx, p.ID)
	must(t, "GetPromotion", err)
	within(t, "UpdatePromotion zero time", got.Updated, before, after)
}

// testPromotionTerminal: once succeeded, failed or blocked, every further
// update is ErrConflict and changes nothing.
func testPromotionTerminal(t *testing.T, s store.Store) {
	for _, final := range terminalPromotionPhases {
		t.Run(string(final), func(t *testing.T) {
			ctx := t.Context()
			p, err := s.CreatePromotion(ctx, newPromotion(hexOf(string(final)), "staging", "prod", 0))
			must(t, "CreatePromotion", err)
			must(t, "UpdatePromotion", s.UpdatePromotion(ctx, p.ID, final, "done", at(5)))
			for _, next := range allPromotionPhases {
				err := s.UpdatePromotion(ctx, p.ID, next, "again", at(6))
				isErr(t, fmt.Sprintf("UpdatePromotion %s -> %s", final, next), err, store.ErrConflict)
			}
			want := p
			want.Phase, want.Reason, want.Updated = final, "done", at(5)
			got, err := s.GetPromotion(ctx, p.ID)
			must(t, "GetPromotion", err)
			equal(t, "GetPromotion after refused updates", got, want)

			// Created terminal: just as final.
			done := newPromotion(hexOf("created "+string(final)), "staging", "prod", 1)
			done.Phase = final
			done, err = s.CreatePromotion(ctx, done)
			must(t, "CreatePromotion terminal", err)
			isErr(t, "UpdatePromotion of a promotion created terminal",
				s.UpdatePromotion(ctx, done.ID, store.PromotionRunning, "", at(7)), store.ErrConflict)
		})
	}
}

func testPromotionBadPhase(t *testing.T, s store.Store) {
	ctx := t.Context()
	p, err := s.CreatePromotion(ctx, newPromotion(hexOf("s"), "staging", "prod", 0))
	must(t, "CreatePromotion", err)
	for _, phase := range []store.PromotionPhase{"", "bogus", "Succeeded"} {
		if err := s.UpdatePromotion(ctx, p.ID, phase, "nope", at(9)); err == nil {
			t.Errorf("UpdatePromotion with phase %q: no error", phase)
		}
	}
	got, err := s.GetPromotion(ctx, p.ID)
	must(t, "GetPromotion", err)
	equal(t, "GetPromotion after refused updates", got, p)
}

func testPromotionUnknown(t *testing.T, s store.Store) {
	ctx := t.Context()
	p, err := s.CreatePromotion(ctx, newPromotion(hexOf("s"), "staging", "prod", 0))
	must(t, "CreatePromotion", err)
	for _, id := range []int64{p.ID + 1, p.ID + 1000, 0, -1} {
		_, err := s.GetPromotion(ctx, id)
		isErr(t, fmt.Sprintf("GetPromotion %d", id), err, store.ErrNotFound)
		err = s.UpdatePromotion(ctx, id, store.PromotionRunning, "", at(1))
		isErr(t, fmt.Sprintf("UpdatePromotion %d", id), err, store.ErrNotFound)
	}
}

func testPromotionList(t *testing.T, s store.Store) {
	ctx := t.Context()
	snapA, snapB := hexOf("a"), hexOf("b")
	specs := []struct {
		snap, from, to string
		phase          store.PromotionPhase // after an update; "" stays pending
	}{
		{snapA, "dev", "staging", store.PromotionSucceeded}, // 0
		{snapA, "staging", "prod", store.PromotionBlocked},  // 1
		{snapB, "dev", "staging", store.PromotionRunning},   // 2
		{snapA, "staging", "prod", ""},                      // 3
		{snapB, "staging", "prod", store.PromotionFailed},   // 4
		{snapB, "dev", "qa", ""},                            // 5
	}
	var ps []store.Promotion
	for i, sp := range specs {
		// Created times run backwards: newest first means newest created,
		// that is highest ID, not latest Created.
		p, err := s.CreatePromotion(ctx, newPromotion(sp.snap, sp.from, sp.to, 100-i))
		must(t, "CreatePromotion", err)
		if sp.phase != "" {
			must(t, "UpdatePromotion", s.UpdatePromotion(ctx, p.ID, sp.phase, "r", at(200+i)))
			p.Phase, p.Reason, p.Updated = sp.phase, "r", at(200+i)
		}
		ps = append(ps, p)
	}
	cases := []struct {
		name string
		f    store.PromotionFilter
		want []store.Promotion
	}{
		{"All", store.PromotionFilter{}, choose(ps, 5, 4, 3, 2, 1, 0)},
		{"Snapshot", store.PromotionFilter{Snapshot: snapA}, choose(ps, 3, 1, 0)},
		{"To", store.PromotionFilter{To: "prod"}, choose(ps, 4, 3, 1)},
		{"Phase", store.PromotionFilter{Phase: store.PromotionPending}, choose(ps, 5, 3)},
		{"PhaseTerminal", store.PromotionFilter{Phase: store.PromotionBlocked}, choose(ps, 1)},
		{"SnapshotTo", store.PromotionFilter{Snapshot: snapB, To: "staging"}, choose(ps, 2)},
		{"AllFields", store.PromotionFilter{Snapshot: snapA, To: "prod", Phase: store.PromotionPending}, choose(ps, 3)},
		{"Limit", store.PromotionFilter{Limit: 2}, choose(ps, 5, 4)},
		{"FilteredLimit", store.PromotionFilter{To: "prod", Limit: 2}, choose(ps, 4, 3)},
		{"LimitAboveCount", store.PromotionFilter{Snapshot: snapA, Limit: 10}, choose(ps, 3, 1, 0)},
		{"NegativeLimit", store.PromotionFilter{To: "staging", Limit: -1}, choose(ps, 2, 0)},
		{"NoMatch", store.PromotionFilter{To: "moon"}, nil},
		{"NoMatchCombination", store.PromotionFilter{Snapshot: snapA, To: "qa"}, nil},
	}
	for _, tc := range cases {
		got, err := s.ListPromotions(ctx, tc.f)
		must(t, "ListPromotions "+tc.name, err)
		equalList(t, "ListPromotions "+tc.name, got, tc.want)
	}
}

// testGateOrder: results come back in the order they were added, not by
// their times, and only the asked-for promotion's.
func testGateOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	p1, err := s.CreatePromotion(ctx, newPromotion(hexOf("a"), "staging", "prod", 0))
	must(t, "CreatePromotion", err)
	p2, err := s.CreatePromotion(ctx, newPromotion(hexOf("b"), "staging", "prod", 1))
	must(t, "CreatePromotion", err)
	added := []store.GateResult{
		{Promotion: p1.ID, Gate: "soak", Passed: true, Reason: "24h in staging", At: at(30)},
		{Promotion: p2.ID, Gate: "tests", Passed: false, Reason: "3 failed", At: at(1)},
		{Promotion: p1.ID, Gate: "approvals", Passed: false, Reason: "1/2 approvals", At: at(10)},
		{Promotion: p1.ID, Gate: "window", Passed: true, At: at(20)},
		// Same gate again (re-evaluated): both kept.
		{Promotion: p1.ID, Gate: "approvals", Passed: true, Reason: "2/2 approvals", At: at(11)},
	}
	for _, g := range added {
		must(t, "AddGateResult "+g.Gate, s.AddGateResult(ctx, g))
	}
	// Times given with a zone and below a millisecond come back UTC ms.
	must(t, "AddGateResult zoned", s.AddGateResult(ctx, store.GateResult{Promotion: p2.ID, Gate: "window",
		Passed: true, At: at(2).In(time.FixedZone("X", 5400)).Add(500_000)}))
	added = append(added, store.GateResult{Promotion: p2.ID, Gate: "window", Passed: true, At: at(2)})

	cases := []struct {
		name string
		id   int64
		want []store.GateResult
	}{
		{"First", p1.ID, choose(added, 0, 2, 3, 4)},
		{"Second", p2.ID, choose(added, 1, 5)},
		{"Unknown", p2.ID + 100, nil},
	}
	for _, tc := range cases {
		got, err := s.GateResults(ctx, tc.id)
		must(t, "GateResults "+tc.name, err)
		equalList(t, "GateResults "+tc.name, got, tc.want)
	}
}

func testGateDefaultTime(t *testing.T, s store.Store) {
	ctx := t.Context()
	p, err := s.CreatePromotion(ctx, newPromotion(hexOf("a"), "staging", "prod", 0))
	must(t, "CreatePromotion", err)
	before := time.Now()
	must(t, "AddGateResult", s.AddGateResult(ctx, store.GateResult{Promotion: p.ID, Gate: "tests", Passed: true}))
	after := time.Now()
	got, err := s.GateResults(ctx, p.ID)
	must(t, "GateResults", err)
	if len(got) != 1 {
		t.Fatalf("GateResults: %d results, want 1", len(got))
	}
	within(t, "AddGateResult set At", got[0].At, before, after)
	equal(t, "GateResults", got, []store.GateResult{{Promotion: p.ID, Gate: "tests", Passed: true, At: got[0].At}})
}

// testGateUnknown: a result for a promotion that does not exist is
// ErrNotFound and is not recorded.
func testGateUnknown(t *testing.T, s store.Store) {
	ctx := t.Context()
	p, err := s.CreatePromotion(ctx, newPromotion(hexOf("a"), "staging", "prod", 0))
	must(t, "CreatePromotion", err)
	for _, id := range []int64{p.ID + 1, 0, -1} {
		err := s.AddGateResult(ctx, store.GateResult{Promotion: id, Gate: "tests", Passed: true, At: at(1)})
		isErr(t, fmt.Sprintf("AddGateResult for promotion %d", id), err, store.ErrNotFound)
		got, err := s.GateResults(ctx, id)
		must(t, "GateResults", err)
		equalList(t, fmt.Sprintf("GateResults of promotion %d", id), got, nil)
	}
}
