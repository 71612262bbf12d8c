package signal

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// step is one event in a tracker scenario: a probe result at a time
// (seconds after start), or a restart/stop of the instance.
type step struct {
	at     int
	op     string // "ok", "fail", "slow" (succeeds after too long), "start", "stop"
	status Health
	change string // "from->to" when a transition is expected, "" otherwise
}

func TestTracker(t *testing.T) {
	cases := []struct {
		name  string
		cfg   HealthConfig
		steps []step
	}{
		{"healthy after first success", HealthConfig{Interval: 10 * time.Second, Retries: 3}, []step{
			{10, "ok", HealthHealthy, "starting->healthy"},
			{20, "ok", HealthHealthy, ""},
		}},
		{"unhealthy after retries failures", HealthConfig{Interval: 10 * time.Second, Retries: 3}, []step{
			{10, "fail", HealthStarting, ""},
			{20, "fail", HealthStarting, ""},
			{30, "fail", HealthUnhealthy, "starting->unhealthy"},
			{40, "fail", HealthUnhealthy, ""},
			{50, "ok", HealthHealthy, "unhealthy->healthy"},
		}},
		{"retries zero means Docker's 3", HealthConfig{}, []step{
			{30, "fail", HealthStarting, ""},
			{60, "fail", HealthStarting, ""},
			{90, "fail", HealthUnhealthy, "starting->unhealthy"},
		}},
		{"retries one", HealthConfig{Retries: 1}, []step{
			{30, "ok", HealthHealthy, "starting->healthy"},
			{60, "fail", HealthUnhealthy, "healthy->unhealthy"},
		}},
		{"failures in start period do not count", HealthConfig{Interval: 10 * time.Second, StartPeriod: 60 * time.Second, Retries: 2}, []step{
			{10, "fail", HealthStarting, ""},
			{20, "fail", HealthStarting, ""},
			{50, "fail", HealthStarting, ""},
			{60, "fail", HealthStarting, ""}, // first counted failure
			{70, "fail", HealthUnhealthy, "starting->unhealthy"},
		}},
		{"success in start period ends it", HealthConfig{Interval: 10 * time.Second, StartPeriod: 60 * time.Second, Retries: 2}, []step{
			{10, "fail", HealthStarting, ""},
			{20, "ok", HealthHealthy, "starting->healthy"},
			{30, "fail", HealthHealthy, ""},
			{40, "fail", HealthUnhealthy, "healthy->unhealthy"},
		}},
		{"success resets the streak", HealthConfig{Retries: 3}, []step{
			{30, "ok", HealthHealthy, "starting->healthy"},
			{60, "fail", HealthHealthy, ""},
			{90, "fail", HealthHealthy, ""},
			{120, "ok", HealthHealthy, ""},
			{150, "fail", HealthHealthy, ""},
			{180, "fail", HealthHealthy, ""},
			{210, "fail", HealthUnhealthy, "healthy->unhealthy"},
		}},
		{"probe over timeout fails", HealthConfig{Timeout: 2 * time.Second, Retries: 1}, []step{
			{30, "ok", HealthHealthy, "starting->healthy"},
			{60, "slow", HealthUnhealthy, "healthy->unhealthy"},
		}},
		{"stop and restart", HealthConfig{Interval: 10 * time.Second, StartPeriod: 30 * time.Second, Retries: 1}, []step{
			{10, "ok", HealthHealthy, "starting->healthy"},
			{15, "stop", HealthStopped, "healthy->stopped"},
			{20, "fail", HealthStopped, ""}, // in flight when it stopped: ignored
			{25, "start", HealthStarting, "stopped->starting"},
			{35, "fail", HealthStarting, ""}, // new start period
			{54, "fail", HealthStarting, ""},
			{55, "fail", HealthUnhealthy, "starting->unhealthy"}, // the period is over at exactly 30s
			{60, "start", HealthStarting, "unhealthy->starting"},
		}},
	}
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := NewTracker(c.cfg)
			if tr, ok := tr.Start("i", base); !ok || tr.From != "" || tr.To != HealthStarting {
				t.Fatalf("Start = %+v, %v", tr, ok)
			}
			for i, s := range c.steps {
				at := base.Add(time.Duration(s.at) * time.Second)
				var got Transition
				var changed bool
				switch s.op {
				case "start":
					got, changed = tr.Start("i", at)
				case "stop":
					got, changed = tr.Stop("i", at)
				default:
					r := ProbeResult{Start: at, Duration: time.Second, OK: s.op != "fail", Detail: s.op}
					if s.op == "slow" {
						r.Duration = time.Minute
					}
					got, changed = tr.Observe("i", r)
				}
				var gotChange string
				if changed {
					gotChange = fmt.Sprintf("%s->%s", got.From, got.To)
					if got.Instance != "i" || !got.At.Equal(at) {
						t.Errorf("step %d: transition %+v", i, got)
					}
				}
				if gotChange != s.change {
					t.Errorf("step %d (%s at %ds): change %q, want %q", i, s.op, s.at, gotChange, s.change)
				}
				if st, _ := tr.State("i"); st.Status != s.status {
					t.Errorf("step %d (%s at %ds): status %s, want %s", i, s.op, s.at, st.Status, s.status)
				}
			}
		})
	}
}

func TestTrackerDetails(t *testing.T) {
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tr := NewTracker(HealthConfig{Timeout: time.Second, Retries: 2})
	// Observe without Start: the instance starts with its first probe.
	got, changed := tr.Observe("i", ProbeResult{Start: base, OK: false, Detail: "HTTP 503: warming"})
	if !changed || got.From != "" || got.To != HealthStarting || got.FailingStreak != 1 {
		t.Errorf("first probe of an unknown instance: %+v, %v", got, changed)
	}
	got, changed = tr.Observe("i", ProbeResult{Start: base.Add(time.Second), Duration: 3 * time.Second, OK: true})
	if !changed || got.From != HealthStarting || got.To != HealthUnhealthy || got.FailingStreak != 2 || got.Detail != "timeout after 1s" {
		t.Errorf("transition = %+v", got)
	}
	if next, ok := tr.NextProbe("i"); !ok || !next.Equal(base.Add(31*time.Second)) {
		t.Errorf("NextProbe = %v, %v; want 30s after the last probe", next, ok)
	}
	tr.Forget("i")
	if _, ok := tr.State("i"); ok {
		t.Error("forgotten instance still known")
	}
	if _, ok := tr.NextProbe("i"); ok {
		t.Error("forgotten instance still due for probing")
	}
}

func TestHealthConfigRun(t *testing.T) {
	cfg := HealthConfig{Timeout: 50 * time.Millisecond}
	r := cfg.Run(context.Background(), nil, func(ctx context.Context) (bool, string) {
		<-ctx.Done()
		return false, "gave up"
	})
	if r.OK || r.Duration < 50*time.Millisecond || r.Detail != "gave up" {
		t.Errorf("Run = %+v", r)
	}
	r = cfg.Run(context.Background(), nil, func(ctx context.Context) (bool, string) { return true, "fine" })
	if !r.OK || r.Start.IsZero() || !strings.Contains(r.Detail, "fine") {
		t.Errorf("Run = %+v", r)
	}
}

// TestTrackerObserveFast: probing every 100ms until first healthy neither
// reports a service that takes a moment to listen as unhealthy, nor makes
// a broken one unhealthy sooner than Interval × Retries, as Docker would.
func TestTrackerObserveFast(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	tr := NewTracker(HealthConfig{Interval: 2 * time.Second, Timeout: time.Second, Retries: 3})
	tr.Start("slow-listener", t0)
	var changes []string
	observe := func(name string, ms int, ok bool) {
		if tn, changed := tr.ObserveFast(name, ProbeResult{Start: t0.Add(time.Duration(ms) * time.Millisecond), OK: ok, Detail: "d"}); changed {
			changes = append(changes, fmt.Sprintf("%s@%d:%s->%s", name, ms, tn.From, tn.To))
		}
	}
	for ms := 100; ms <= 1500; ms += 100 {
		observe("slow-listener", ms, false) // connection refused while it starts
	}
	observe("slow-listener", 1600, true)
	if want := "slow-listener@1600:starting->healthy"; strings.Join(changes, " ") != want {
		t.Errorf("changes = %v, want %s", changes, want)
	}

	changes = nil
	tr.Start("broken", t0)
	for ms := 100; ms <= 7000; ms += 100 {
		observe("broken", ms, false)
	}
	// Counted at 2s, 4s and 6s: unhealthy at the third, as Docker would be.
	if want := "broken@6000:starting->unhealthy"; strings.Join(changes, " ") != want {
		t.Errorf("changes = %v, want %s", changes, want)
	}
	if h, _ := tr.State("broken"); h.LastDetail != "d" || !h.LastProbe.Equal(t0.Add(7*time.Second)) {
		t.Errorf("uncounted probes must still leave their detail: %+v", h)
	}
}
