package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

var eventTests = []test{
	{"IDsMonotonic", testEventIDs},
	{"Time", testEventTime},
	{"RoundTrip", testEventRoundTrip},
	{"Filters", testEventFilters},
	{"TailAfterID", testEventTail},
	{"LimitNewest", testEventLimit},
}

func testEventIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	var last int64
	for i := range 5 {
		e, err := s.AppendEvent(ctx, store.Event{Kind: store.EventBuilt, Message: fmt.Sprint(i), Time: at(i)})
		must(t, "AppendEvent", err)
		if e.ID <= last {
			t.Errorf("event %d: ID %d not greater than previous %d", i, e.ID, last)
		}
		last = e.ID
	}
}

func testEventTime(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now()
	zero, err := s.AppendEvent(ctx, store.Event{Kind: store.EventDeployStarted, Message: "zero"})
	after := time.Now()
	must(t, "AppendEvent without time", err)
	within(t, "AppendEvent set Time", zero.Time, before, after)

	given := time.Date(2020, 1, 2, 4, 4, 5, 6_999_999, time.FixedZone("X", 3600))
	kept, err := s.AppendEvent(ctx, store.Event{Kind: store.EventDeployStarted, Message: "given", Time: given})
	must(t, "AppendEvent with time", err)
	wantKept := time.Date(2020, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	equal(t, "AppendEvent kept Time", kept.Time, wantKept)

	got, err := s.ListEvents(ctx, store.EventFilter{})
	must(t, "ListEvents", err)
	equal(t, "ListEvents", got, []store.Event{zero, kept})
}

func testEventRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := store.Event{
		Time: at(0), Kind: store.EventDeployFailed, Env: "prod", Site: "eu-1", Snapshot: hexOf("snap"),
		Service: "api", Message: "health check failed: 3/3 probes",
		Attrs: map[string]string{"reason": "timeout", "probe": "/healthz", "quote": `"a" & <b> ✓`, "empty": ""},
	}
	got, err := s.AppendEvent(ctx, in)
	must(t, "AppendEvent", err)
	want := in
	want.ID = got.ID
	equal(t, "AppendEvent result", got, want)

	bare, err := s.AppendEvent(ctx, store.Event{Time: at(1), Kind: store.EventStackDown})
	must(t, "AppendEvent bare", err)
	equal(t, "AppendEvent bare", bare, store.Event{ID: bare.ID, Time: at(1), Kind: store.EventStackDown})

	list, err := s.ListEvents(ctx, store.EventFilter{})
	must(t, "ListEvents", err)
	equal(t, "ListEvents", list, []store.Event{want, bare})
}

// seedEvents appends a fixed mix of events and returns them as stored.
func seedEvents(t *testing.T, s store.Store) []store.Event {
	t.Helper()
	snapA, snapB := hexOf("a"), hexOf("b")
	specs := []store.Event{
		{Kind: store.EventBuilt, Service: "api"},                                                          // 0
		{Kind: store.EventSnapshotCreated, Snapshot: snapA},                                               // 1
		{Kind: store.EventDeployStarted, Env: "prod", Site: "eu-1", Snapshot: snapA},                      // 2
		{Kind: store.EventInstanceStarted, Env: "prod", Site: "eu-1", Snapshot: snapA, Service: "api"},    // 3
		{Kind: store.EventInstanceStarted, Env: "prod", Site: "us-1", Snapshot: snapA, Service: "web"},    // 4
		{Kind: store.EventDeploySucceeded, Env: "prod", Site: "eu-1", Snapshot: snapA},                    // 5
		{Kind: store.EventDeployStarted, Env: "staging", Site: "eu-1", Snapshot: snapB},                   // 6
		{Kind: store.EventHealthChanged, Env: "staging", Site: "eu-1", Snapshot: snapB, Service: "api"},   // 7
		{Kind: store.EventDeployFailed, Env: "staging", Site: "eu-1", Snapshot: snapB},                    // 8
		{Kind: store.EventInstanceStarted, Env: "staging", Site: "us-1", Snapshot: snapB, Service: "api"}, // 9
	}
	var out []store.Event
	for i, e := range specs {
		e.Time = at(i)
		e.Message = fmt.Sprintf("event %d", i)
		got, err := s.AppendEvent(t.Context(), e)
		must(t, "AppendEvent", err)
		out = append(out, got)
	}
	return out
}

func pickEvents(all []store.Event, idx ...int) []store.Event {
	out := []store.Event{}
	for _, i := range idx {
		out = append(out, all[i])
	}
	return out
}

func checkEvents(t *testing.T, s store.Store, cases []eventCase) {
	t.Helper()
	for _, tc := range cases {
		got, err := s.ListEvents(t.Context(), tc.f)
		must(t, "ListEvents "+tc.name, err)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		equal(t, "ListEvents "+tc.name, got, tc.want)
	}
}

type eventCase struct {
	name string
	f    store.EventFilter
	want []store.Event
}

func testEventFilters(t *testing.T, s store.Store) {
	ev := seedEvents(t, s)
	snapA, snapB := hexOf("a"), hexOf("b")
	checkEvents(t, s, []eventCase{
		{"All", store.EventFilter{}, ev},
		{"Env", store.EventFilter{Env: "prod"}, pickEvents(ev, 2, 3, 4, 5)},
		{"Site", store.EventFilter{Site: "us-1"}, pickEvents(ev, 4, 9)},
		{"EnvSite", store.EventFilter{Env: "staging", Site: "eu-1"}, pickEvents(ev, 6, 7, 8)},
		{"Snapshot", store.EventFilter{Snapshot: snapA}, pickEvents(ev, 1, 2, 3, 4, 5)},
		{"Service", store.EventFilter{Service: "api"}, pickEvents(ev, 0, 3, 7, 9)},
		{"Kind", store.EventFilter{Kind: store.EventInstanceStarted}, pickEvents(ev, 3, 4, 9)},
		{"AllFields", store.EventFilter{Env: "staging", Site: "eu-1", Snapshot: snapB, Service: "api",
			Kind: store.EventHealthChanged}, pickEvents(ev, 7)},
		{"KindEnv", store.EventFilter{Kind: store.EventDeployStarted, Env: "staging"}, pickEvents(ev, 6)},
		{"NoMatch", store.EventFilter{Env: "qa"}, nil},
		{"NoMatchCombination", store.EventFilter{Env: "prod", Snapshot: snapB}, nil},
	})
}

func testEventTail(t *testing.T, s store.Store) {
	ev := seedEvents(t, s)
	checkEvents(t, s, []eventCase{
		{"AfterFirst", store.EventFilter{AfterID: ev[0].ID}, ev[1:]},
		{"AfterMiddle", store.EventFilter{AfterID: ev[6].ID}, ev[7:]},
		{"AfterLast", store.EventFilter{AfterID: ev[9].ID}, nil},
		// Tailing with a limit reads forward from the cursor.
		{"AfterLimit", store.EventFilter{AfterID: ev[3].ID, Limit: 2}, pickEvents(ev, 4, 5)},
		{"AfterFiltered", store.EventFilter{AfterID: ev[3].ID, Env: "prod"}, pickEvents(ev, 4, 5)},
		{"AfterFilteredLimit", store.EventFilter{AfterID: ev[2].ID, Kind: store.EventInstanceStarted, Limit: 2},
			pickEvents(ev, 3, 4)},
	})

	// A tailer picks up what is appended after its cursor, in order.
	cursor := ev[9].ID
	var more []store.Event
	for i := range 3 {
		e, err := s.AppendEvent(t.Context(), store.Event{Kind: store.EventDrift, Env: "prod", Time: at(20 + i)})
		must(t, "AppendEvent", err)
		more = append(more, e)
	}
	checkEvents(t, s, []eventCase{
		{"NewAfterCursor", store.EventFilter{AfterID: cursor}, more},
		{"NewAfterCursorLimit", store.EventFilter{AfterID: cursor, Limit: 2}, more[:2]},
		{"NewAfterCursorPaged", store.EventFilter{AfterID: more[1].ID, Limit: 2}, more[2:]},
	})
}

func testEventLimit(t *testing.T, s store.Store) {
	ev := seedEvents(t, s)
	checkEvents(t, s, []eventCase{
		{"Limit3", store.EventFilter{Limit: 3}, ev[7:]},
		{"Limit1", store.EventFilter{Limit: 1}, ev[9:]},
		{"LimitAll", store.EventFilter{Limit: 10}, ev},
		{"LimitAboveCount", store.EventFilter{Limit: 100}, ev},
		{"NoLimit", store.EventFilter{Limit: 0}, ev},
		{"NegativeLimit", store.EventFilter{Limit: -5}, ev},
		{"FilteredLimit", store.EventFilter{Env: "prod", Limit: 2}, pickEvents(ev, 4, 5)},
		{"FilteredLimitService", store.EventFilter{Service: "api", Limit: 3}, pickEvents(ev, 3, 7, 9)},
		// The page before: the newest events older than a cursor, oldest first.
		{"BeforeLimit", store.EventFilter{BeforeID: ev[7].ID, Limit: 3}, ev[4:7]},
		{"Before", store.EventFilter{BeforeID: ev[2].ID}, ev[:2]},
		{"BeforeFirst", store.EventFilter{BeforeID: ev[0].ID, Limit: 5}, nil},
		{"AfterWinsOverBefore", store.EventFilter{AfterID: ev[7].ID, BeforeID: ev[2].ID}, ev[8:]},
	})
}
