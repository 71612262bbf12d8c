package promote

import (
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// samples is a minute of one service's telemetry from start, a sample every
// 2s at 10 req/s with the given error rate and p95 (seconds).
func samples(start time.Time, service string, errRate, p95 float64) []store.Sample {
	var out []store.Sample
	for i := range 30 {
		out = append(out, store.Sample{Time: start.Add(time.Duration(i) * 2 * time.Second), Service: service,
			RequestRate: 10, ErrorRate: errRate, P50: p95 / 2, P95: p95})
	}
	return out
}

func TestCheckTelemetry(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	end := start.Add(time.Minute)
	def := LimitsOf(spec.Gates{})
	rate := func(f float64) *float64 { return &f }
	idle := samples(start, "web", 0, 0)
	for i := range idle {
		idle[i].RequestRate = 0
	}
	tests := []struct {
		name     string
		limits   Limits
		services []string
		samples  []store.Sample
		ok       bool
		phrase   string
	}{
		{name: "within the default limit", limits: def, services: []string{"trades"},
			samples: samples(start, "trades", 0.01, 0.05), ok: true, phrase: "trades 1.0% errors, p95 50ms"},
		{name: "over the default limit", limits: def, services: []string{"trades"},
			samples: samples(start, "trades", 0.3, 0.05), phrase: "trades 30.0% errors > 5.0%"},
		{name: "at the limit passes", limits: def, services: []string{"trades"},
			samples: samples(start, "trades", 0.05, 0.05), ok: true},
		{name: "the rung's own error limit", limits: LimitsOf(spec.Gates{MaxErrorRate: rate(0)}), services: []string{"trades"},
			samples: samples(start, "trades", 0.01, 0.05), phrase: "1.0% errors > 0.0%"},
		{name: "p95 over", limits: LimitsOf(spec.Gates{MaxP95: 500 * time.Millisecond}), services: []string{"trades"},
			samples: samples(start, "trades", 0, 0.7), phrase: "trades p95 700ms > 500ms"},
		{name: "no p95 limit by default", limits: def, services: []string{"trades"},
			samples: samples(start, "trades", 0, 9), ok: true},
		{name: "no metrics: health alone", limits: def, services: []string{"postgres", "trades"},
			samples: samples(start, "trades", 0, 0.05), ok: true, phrase: "no metrics from postgres (judged on health alone)"},
		{name: "no traffic: health alone", limits: def, services: []string{"web"},
			samples: idle, ok: true, phrase: "no requests to web (judged on health alone)"},
		{name: "samples outside the window do not count", limits: def, services: []string{"trades"},
			samples: samples(end.Add(time.Second), "trades", 0.9, 0.05), ok: true, phrase: "no metrics from trades"},
		{name: "one bad service fails it all", limits: def, services: []string{"trades", "web"},
			samples: append(samples(start, "web", 0, 0.01), samples(start, "trades", 0.2, 0.01)...), phrase: "trades 20.0% errors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := CheckTelemetry(tt.services, tt.samples, start, end, tt.limits)
			if v.OK != tt.ok || !strings.Contains(v.Reason, tt.phrase) {
				t.Fatalf("CheckTelemetry = %+v, want ok=%v with %q", v, tt.ok, tt.phrase)
			}
		})
	}
}

func TestJudgeKnownGood(t *testing.T) {
	finished := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	base := func() KnownGoodEvidence {
		return KnownGoodEvidence{
			Release: store.Release{ID: 7, Env: "dev", Site: "default", Phase: store.PhaseSucceeded, Finished: finished},
			Env:     "dev", Soak: 10 * time.Second, Limits: LimitsOf(spec.Gates{}),
			Services: []string{"trades", "web"},
			Samples:  append(samples(finished, "trades", 0, 0.02), samples(finished, "web", 0, 0.03)...),
			Now:      finished.Add(11 * time.Second),
		}
	}
	tests := []struct {
		name   string
		change func(*KnownGoodEvidence)
		want   KnownGoodVerdict
		phrase string
	}{
		{name: "healthy and within limits", change: func(*KnownGoodEvidence) {},
			want: KnownGoodVerdict{Final: true, KnownGood: true}, phrase: "healthy over its 10s soak on dev; within error rate ≤ 5.0%"},
		{name: "still soaking", change: func(ev *KnownGoodEvidence) { ev.Now = finished.Add(4 * time.Second) },
			want: KnownGoodVerdict{}, phrase: "soaking: 6s more"},
		{name: "unhealthy", change: func(ev *KnownGoodEvidence) { ev.Trouble = "trades crashed at 12:00:05" },
			want: KnownGoodVerdict{Final: true}, phrase: "not healthy after it was released: trades crashed"},
		{name: "healthy but failing 30% of requests", change: func(ev *KnownGoodEvidence) {
			ev.Samples = append(samples(finished, "trades", 0.3, 0.02), samples(finished, "web", 0, 0.03)...)
		}, want: KnownGoodVerdict{Final: true}, phrase: "over the rung's limits over its 10s soak on dev: trades 30.0% errors > 5.0%"},
		{name: "errors after the soak are not judged", change: func(ev *KnownGoodEvidence) {
			ev.Samples = append(ev.Samples, samples(finished.Add(20*time.Second), "trades", 1, 0.02)...)
			ev.Now = finished.Add(time.Hour)
		}, want: KnownGoodVerdict{Final: true, KnownGood: true}},
		{name: "p95 over the rung's limit", change: func(ev *KnownGoodEvidence) { ev.Limits.MaxP95 = 25 * time.Millisecond },
			want: KnownGoodVerdict{Final: true}, phrase: "web p95 30ms > 25ms"},
		{name: "no metrics at all: health alone", change: func(ev *KnownGoodEvidence) { ev.Samples = nil },
			want: KnownGoodVerdict{Final: true, KnownGood: true}, phrase: "no metrics from trades, web (judged on health alone)"},
		{name: "no soak: judged at once on what ran", change: func(ev *KnownGoodEvidence) {
			ev.Soak, ev.Now = 0, finished.Add(30*time.Second)
			ev.Samples = samples(finished, "trades", 0.5, 0.02)
		}, want: KnownGoodVerdict{Final: true}, phrase: "since it was released on dev: trades 50.0% errors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := base()
			tt.change(&ev)
			got := JudgeKnownGood(ev)
			if got.Final != tt.want.Final || got.KnownGood != tt.want.KnownGood || !strings.Contains(got.Reason, tt.phrase) {
				t.Fatalf("JudgeKnownGood = %+v, want final=%v knownGood=%v with %q", got, tt.want.Final, tt.want.KnownGood, tt.phrase)
			}
		})
	}
}

func TestLimitsStricter(t *testing.T) {
	a := Limits{MaxErrorRate: 0.05}
	b := Limits{MaxErrorRate: 0.01, MaxP95: time.Second}
	if got := a.Stricter(b); got != (Limits{MaxErrorRate: 0.01, MaxP95: time.Second}) {
		t.Fatalf("Stricter = %+v", got)
	}
	if got := b.Stricter(Limits{MaxErrorRate: 0.2, MaxP95: 300 * time.Millisecond}); got != (Limits{MaxErrorRate: 0.01, MaxP95: 300 * time.Millisecond}) {
		t.Fatalf("Stricter = %+v", got)
	}
}
