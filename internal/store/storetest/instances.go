package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

var instanceTests = []test{
	{"PutList", testInstancePutList},
	{"PutReplaces", testInstanceReplace},
	{"Delete", testInstanceDelete},
}

var sampleTests = []test{
	{"RoundTripOldestFirst", testSampleRoundTrip},
	{"Filters", testSampleFilters},
	{"AppendEmpty", testSampleEmpty},
}

func itoa(n int) string { return strconv.Itoa(n) }

func inst(env, site, service, slot string, pid int) store.Instance {
	return store.Instance{
		Env: env, Site: site, Service: service, Slot: slot,
		Snapshot: hexOf("snap " + env), Digest: digest(service), Config: hexOf("cfg " + service),
		PID: pid, Port: 20000 + pid, Owner: "host:" + itoa(pid), Started: at(pid),
	}
}

func testInstancePutList(t *testing.T, s store.Store) {
	ctx := t.Context()
	all := []store.Instance{
		inst("prod", "eu-1", "web", "1", 1),    // 0
		inst("prod", "eu-1", "api", "1", 2),    // 1
		inst("prod", "eu-1", "api", "0", 3),    // 2
		inst("prod", "us-1", "api", "0", 4),    // 3
		inst("staging", "eu-1", "api", "0", 5), // 4
		inst("prod", "eu-1", "web", "0", 6),    // 5
	}
	// Started given with a zone and below a millisecond: stored as UTC ms.
	all[0].Started = time.Date(2025, 3, 14, 10, 26, 54, 589_999_999, time.FixedZone("CET", 3600))
	for _, in := range all {
		must(t, "PutInstance", s.PutInstance(ctx, in))
	}
	all[0].Started = at(1)
	pick := func(idx ...int) []store.Instance {
		out := []store.Instance{}
		for _, i := range idx {
			out = append(out, all[i])
		}
		return out
	}
	cases := []struct {
		env, site string
		want      []store.Instance
	}{
		// Ordered by service then slot; env and site break remaining ties.
		{"prod", "eu-1", pick(2, 1, 5, 0)},
		{"prod", "us-1", pick(3)},
		{"staging", "eu-1", pick(4)},
		{"prod", "", pick(2, 3, 1, 5, 0)},
		{"", "eu-1", pick(2, 4, 1, 5, 0)},
		{"", "", pick(2, 3, 4, 1, 5, 0)},
		{"qa", "", nil},
		{"staging", "us-1", nil},
	}
	for _, tc := range cases {
		got, err := s.ListInstances(ctx, tc.env, tc.site)
		must(t, "ListInstances", err)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		equal(t, "ListInstances "+tc.env+"/"+tc.site, got, tc.want)
	}
}

func testInstanceReplace(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := inst("prod", "eu-1", "api", "0", 1)
	other := inst("prod", "eu-1", "api", "1", 2)
	must(t, "PutInstance", s.PutInstance(ctx, first))
	must(t, "PutInstance", s.PutInstance(ctx, other))
	// Same key, every other field new: a restart onto a new snapshot.
	next := store.Instance{
		Env: "prod", Site: "eu-1", Service: "api", Slot: "0",
		Snapshot: hexOf("new snap"), Digest: digest("api v2"), Config: hexOf("cfg v2"),
		PID: 777, Port: 30777, Owner: "host-b:9", Started: at(50),
	}
	must(t, "PutInstance replace", s.PutInstance(ctx, next))
	got, err := s.ListInstances(ctx, "prod", "eu-1")
	must(t, "ListInstances", err)
	equal(t, "ListInstances after replace", got, []store.Instance{next, other})
}

func testInstanceDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := inst("prod", "eu-1", "api", "0", 1)
	b := inst("prod", "eu-1", "api", "1", 2)
	c := inst("prod", "us-1", "api", "0", 3)
	for _, in := range []store.Instance{a, b, c} {
		must(t, "PutInstance", s.PutInstance(ctx, in))
	}
	must(t, "DeleteInstance", s.DeleteInstance(ctx, "prod", "eu-1", "api", "0"))
	got, err := s.ListInstances(ctx, "", "")
	must(t, "ListInstances", err)
	equal(t, "ListInstances after delete", got, []store.Instance{c, b})

	// Unknown instances, including near misses of a known key, are not an
	// error and delete nothing else.
	for _, k := range [][4]string{
		{"prod", "eu-1", "api", "0"}, // already deleted
		{"prod", "eu-1", "api", "9"},
		{"prod", "eu-2", "api", "1"},
		{"qa", "eu-1", "api", "1"},
		{"prod", "eu-1", "web", "1"},
		{"", "", "", ""},
	} {
		must(t, "DeleteInstance unknown", s.DeleteInstance(ctx, k[0], k[1], k[2], k[3]))
	}
	got, err = s.ListInstances(ctx, "", "")
	must(t, "ListInstances", err)
	equal(t, "ListInstances after unknown deletes", got, []store.Instance{c, b})
}

func sample(i int, env, site, snap, service string) store.Sample {
	return store.Sample{
		Time: at(i), Env: env, Site: site, Snapshot: snap, Service: service,
		RequestRate: 10.5 + float64(i), ErrorRate: 0.001 * float64(i), P50: 0.0125, P95: 0.25 + float64(i)/1000,
	}
}

func testSampleRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	snap := hexOf("snap")
	s0 := sample(0, "prod", "eu-1", snap, "api")
	s1 := sample(1, "prod", "eu-1", snap, "api")
	s2 := sample(2, "prod", "eu-1", snap, "api")
	s2.RequestRate, s2.ErrorRate, s2.P50, s2.P95 = 1234.5678901234, 1, 0, 1e-9
	// Appended newest first and across two calls: listed oldest first.
	must(t, "AppendSamples", s.AppendSamples(ctx, []store.Sample{s2, s1}))
	must(t, "AppendSamples", s.AppendSamples(ctx, []store.Sample{s0}))
	got, err := s.ListSamples(ctx, store.SampleFilter{})
	must(t, "ListSamples", err)
	equal(t, "ListSamples", got, []store.Sample{s0, s1, s2})

	// A time in another zone and finer than a millisecond comes back UTC ms.
	odd := sample(3, "prod", "eu-1", snap, "api")
	odd.Time = time.Date(2025, 3, 14, 10, 27, 0, 589_999_999, time.FixedZone("CET", 3600))
	must(t, "AppendSamples", s.AppendSamples(ctx, []store.Sample{odd}))
	odd.Time = at(7)
	got, err = s.ListSamples(ctx, store.SampleFilter{Since: at(3)})
	must(t, "ListSamples since", err)
	equal(t, "ListSamples since", got, []store.Sample{odd})
}

func testSampleFilters(t *testing.T, s store.Store) {
	ctx := t.Context()
	snapA, snapB := hexOf("a"), hexOf("b")
	all := []store.Sample{
		sample(0, "prod", "eu-1", snapA, "api"),    // 0
		sample(1, "prod", "eu-1", snapA, "web"),    // 1
		sample(2, "prod", "us-1", snapA, "api"),    // 2
		sample(3, "prod", "eu-1", snapB, "api"),    // 3
		sample(4, "staging", "eu-1", snapB, "api"), // 4
		sample(5, "prod", "eu-1", snapB, "web"),    // 5
		sample(6, "prod", "eu-1", snapB, "api"),    // 6
	}
	must(t, "AppendSamples", s.AppendSamples(ctx, all))
	pick := func(idx ...int) []store.Sample {
		out := []store.Sample{}
		for _, i := range idx {
			out = append(out, all[i])
		}
		return out
	}
	cases := []struct {
		name string
		f    store.SampleFilter
		want []store.Sample
	}{
		{"All", store.SampleFilter{}, all},
		{"Env", store.SampleFilter{Env: "prod"}, pick(0, 1, 2, 3, 5, 6)},
		{"Site", store.SampleFilter{Site: "us-1"}, pick(2)},
		{"Snapshot", store.SampleFilter{Snapshot: snapB}, pick(3, 4, 5, 6)},
		{"Service", store.SampleFilter{Service: "web"}, pick(1, 5)},
		{"EnvSiteService", store.SampleFilter{Env: "prod", Site: "eu-1", Service: "api"}, pick(0, 3, 6)},
		{"AllFields", store.SampleFilter{Env: "prod", Site: "eu-1", Snapshot: snapB, Service: "api"}, pick(3, 6)},
		// Since is inclusive.
		{"Since", store.SampleFilter{Since: at(4)}, pick(4, 5, 6)},
		{"SinceBetween", store.SampleFilter{Since: at(4).Add(time.Millisecond)}, pick(5, 6)},
		{"SinceAfterAll", store.SampleFilter{Since: at(7)}, nil},
		{"SinceBeforeAll", store.SampleFilter{Since: at(-100)}, all},
		{"SinceFiltered", store.SampleFilter{Service: "api", Since: at(2)}, pick(2, 3, 4, 6)},
		// Limit keeps the oldest matching samples.
		{"Limit", store.SampleFilter{Limit: 2}, pick(0, 1)},
		{"SinceLimit", store.SampleFilter{Since: at(3), Limit: 2}, pick(3, 4)},
		{"FilteredLimit", store.SampleFilter{Env: "prod", Service: "api", Limit: 3}, pick(0, 2, 3)},
		{"LimitAboveCount", store.SampleFilter{Service: "web", Limit: 10}, pick(1, 5)},
		{"NoMatch", store.SampleFilter{Env: "qa"}, nil},
	}
	for _, tc := range cases {
		got, err := s.ListSamples(ctx, tc.f)
		must(t, "ListSamples "+tc.name, err)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		equal(t, "ListSamples "+tc.name, got, tc.want)
	}
}

func testSampleEmpty(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, "AppendSamples nil", s.AppendSamples(ctx, nil))
	must(t, "AppendSamples empty", s.AppendSamples(ctx, []store.Sample{}))
	got, err := s.ListSamples(ctx, store.SampleFilter{})
	must(t, "ListSamples", err)
	if len(got) != 0 {
		t.Errorf("ListSamples after empty appends: %d samples, want 0", len(got))
	}
}
