package storetest

import (
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

var retentionTests = []test{
	{"FoldsOldSamples", testRetentionFold},
	{"FoldTwiceIsNoop", testRetentionFoldTwice},
	{"DeletesByAge", testRetentionDelete},
	{"ZeroKeepsForever", testRetentionForever},
	{"DefaultKeepsAudit", testRetentionDefault},
}

// rawSample returns a raw sample of service svc at base + sec seconds.
func rawSample(svc string, sec int, req, errRate, p50, p95 float64) store.Sample {
	return store.Sample{Time: at(sec), Env: "prod", Site: "eu-1", Snapshot: hexOf("s1"), Service: svc,
		RequestRate: req, ErrorRate: errRate, P50: p50, P95: p95}
}

// minute is base's minute, the bucket the first samples fall in.
var minute = base.Truncate(time.Minute)

func testRetentionFold(t *testing.T, s store.Store) {
	ctx := t.Context()
	// base is 53.589 s into its minute: samples at +0 and +5 s fall in
	// that minute, +10 and +20 s in the next one, +7200 s two hours on.
	must(t, "AppendSamples", s.AppendSamples(ctx, []store.Sample{
		rawSample("api", 0, 10, 0.1, 0.010, 0.050),
		rawSample("api", 5, 30, 0.5, 0.030, 0.090),
		rawSample("web", 5, 0, 0, 0, 0),
		rawSample("api", 10, 4, 0, 0.020, 0.040),
		rawSample("api", 20, 6, 0, 0.040, 0.030),
		rawSample("api", 7200, 1, 0, 0.001, 0.002),
	}))
	r := store.Retention{RawSamples: time.Hour, SampleBucket: time.Minute}
	// As of base + 1h + 100 s: the cut-off (1 h back, down to a whole
	// minute) falls after the first two buckets. 30 s earlier the second
	// bucket was not whole yet.
	got, err := s.Prune(ctx, r, at(3630))
	must(t, "Prune", err)
	equal(t, "Prune before the second bucket is whole", got, store.Pruned{Folded: 3, Buckets: 2})
	got, err = s.Prune(ctx, r, at(3700))
	must(t, "Prune", err)
	equal(t, "Prune result", got, store.Pruned{Folded: 2, Buckets: 1})

	all, err := s.ListSamples(ctx, store.SampleFilter{})
	must(t, "ListSamples", err)
	folded := func(svc string, t time.Time, req, errRate, p50, p95 float64) store.Sample {
		return store.Sample{Time: t, Env: "prod", Site: "eu-1", Snapshot: hexOf("s1"), Service: svc,
			RequestRate: req, ErrorRate: errRate, P50: p50, P95: p95, Span: time.Minute}
	}
	want := []store.Sample{
		folded("api", minute, 20, 0.4, 0.020, 0.090),
		folded("web", minute, 0, 0, 0, 0),
		folded("api", minute.Add(time.Minute), 5, 0, 0.030, 0.040),
		rawSample("api", 7200, 1, 0, 0.001, 0.002),
	}
	if len(all) != len(want) {
		t.Fatalf("after Prune: %d samples %+v, want %d", len(all), all, len(want))
	}
	// Folding averages floating-point numbers; compare to a tolerance.
	for i := range want {
		g, w := all[i], want[i]
		if g.Time != w.Time || g.Service != w.Service || g.Span != w.Span || g.Env != w.Env || g.Site != w.Site || g.Snapshot != w.Snapshot ||
			!near(g.RequestRate, w.RequestRate) || !near(g.ErrorRate, w.ErrorRate) || !near(g.P50, w.P50) || !near(g.P95, w.P95) {
			t.Errorf("sample %d:\n got  %+v\n want %+v", i, g, w)
		}
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

func testRetentionFoldTwice(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, "AppendSamples", s.AppendSamples(ctx, []store.Sample{rawSample("api", 0, 1, 0, 0.1, 0.2), rawSample("api", 1, 3, 0, 0.1, 0.2)}))
	r := store.Retention{RawSamples: time.Minute, SampleBucket: time.Minute}
	_, err := s.Prune(ctx, r, at(600))
	must(t, "Prune", err)
	again, err := s.Prune(ctx, r, at(1200))
	must(t, "Prune again", err)
	equal(t, "second Prune", again, store.Pruned{})
	all, err := s.ListSamples(ctx, store.SampleFilter{})
	must(t, "ListSamples", err)
	if len(all) != 1 || !near(all[0].RequestRate, 2) {
		t.Errorf("after two Prunes: %+v, want one folded sample of rate 2", all)
	}
}

func testRetentionDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	day := 24 * 3600
	must(t, "AppendSamples", s.AppendSamples(ctx, []store.Sample{rawSample("api", 0, 1, 0, 0, 0), rawSample("api", 3*day, 1, 0, 0, 0)}))
	for _, sec := range []int{0, 2 * day, 3 * day} {
		_, err := s.AppendEvent(ctx, store.Event{Kind: store.EventBuilt, Time: at(sec), Message: itoa(sec)})
		must(t, "AppendEvent", err)
		_, err = s.Audit(ctx, store.AuditEntry{Time: at(sec), Actor: "ci", Action: "deploy", Detail: itoa(sec)})
		must(t, "Audit", err)
	}
	r := store.Retention{RawSamples: time.Hour, SampleBucket: time.Minute, Samples: 48 * time.Hour,
		Events: 48 * time.Hour, Audit: 48 * time.Hour}
	// As of base + 4 days: the first sample is folded (raw window 1 h) and
	// then deleted (kept 48 h); the one of day 3 is folded and kept. The
	// event and audit entry of day 2 are exactly 48 h old: kept.
	got, err := s.Prune(ctx, r, at(4*day))
	must(t, "Prune", err)
	equal(t, "Prune result", got, store.Pruned{Folded: 2, Buckets: 2, Samples: 1, Events: 1, Audit: 1})
	samples, err := s.ListSamples(ctx, store.SampleFilter{})
	must(t, "ListSamples", err)
	if len(samples) != 1 || samples[0].Time != at(3*day).Truncate(time.Minute) {
		t.Errorf("samples after Prune: %+v, want the folded one of day 3", samples)
	}
	events, err := s.ListEvents(ctx, store.EventFilter{})
	must(t, "ListEvents", err)
	if len(events) != 2 || events[0].Message != itoa(2*day) {
		t.Errorf("events after Prune: %+v, want those of days 2 and 3", events)
	}
	audit, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, "ListAudit", err)
	if len(audit) != 2 || audit[1].Detail != itoa(2*day) {
		t.Errorf("audit after Prune: %+v, want the entries of days 2 and 3", audit)
	}
}

func testRetentionForever(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, "AppendSamples", s.AppendSamples(ctx, []store.Sample{rawSample("api", 0, 1, 0, 0, 0)}))
	_, err := s.AppendEvent(ctx, store.Event{Kind: store.EventBuilt, Time: at(0)})
	must(t, "AppendEvent", err)
	got, err := s.Prune(ctx, store.Retention{}, at(1000*24*3600))
	must(t, "Prune", err)
	equal(t, "Prune with zero retention", got, store.Pruned{})
	samples, err := s.ListSamples(ctx, store.SampleFilter{})
	must(t, "ListSamples", err)
	if len(samples) != 1 || samples[0].Span != 0 {
		t.Errorf("samples: %+v, want the raw one kept", samples)
	}
}

func testRetentionDefault(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.Audit(ctx, store.AuditEntry{Time: at(0), Actor: "ci", Action: "deploy"})
	must(t, "Audit", err)
	_, err = s.AppendEvent(ctx, store.Event{Kind: store.EventBuilt, Time: at(0)})
	must(t, "AppendEvent", err)
	// Ten years on, with the defaults: events went, the audit trail stays.
	got, err := s.Prune(ctx, store.DefaultRetention(), at(10*365*24*3600))
	must(t, "Prune", err)
	equal(t, "Prune result", got, store.Pruned{Events: 1})
	audit, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, "ListAudit", err)
	if len(audit) != 1 {
		t.Errorf("audit after default retention: %d entries, want 1", len(audit))
	}
}
