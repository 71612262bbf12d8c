package promote

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	snap := &snapshot.Snapshot{ID: strings.Repeat("ab", 32)}
	dev := &spec.Environment{Name: "dev", Sites: []spec.Site{{Name: "a"}, {Name: "b"}}}
	staging := &spec.Environment{Name: "staging", From: "dev", Gates: spec.Gates{
		Soak: 10 * time.Minute, Approvals: 2, Signed: true,
		Tests: []spec.GateTest{{Name: "smoke", Command: []string{"true"}}},
	}}
	good := func() Evidence {
		return Evidence{
			Snapshot: snap, From: dev, To: staging, Now: now,
			Sites: []SiteEvidence{
				{Site: "a", Current: true, Since: now.Add(-time.Hour)},
				{Site: "b", Current: true, Since: now.Add(-20 * time.Minute)},
			},
			Tests:     []TestResult{{Name: "smoke", Passed: true, Detail: "exit 0 in 12ms"}},
			Approvals: []store.Approval{{By: "ana"}, {By: "bo"}},
			Services:  []string{"trades", "web"},
		}
	}
	tests := []struct {
		name   string
		change func(*Evidence)
		failed map[string]string // gate -> a phrase its reason must contain
	}{
		{name: "all pass", change: func(*Evidence) {}},
		{
			name:   "skipped rung",
			change: func(ev *Evidence) { ev.Sites[1].Current = false },
			failed: map[string]string{GatePreviousRung: "may not skip a rung", GateSoak: "not running on dev", GateTelemetry: "not running on dev"},
		},
		{
			name:   "still soaking",
			change: func(ev *Evidence) { ev.Sites[1].Since = now.Add(-4 * time.Minute) },
			failed: map[string]string{GateSoak: "wait 6m0s more on site b"},
		},
		{
			name:   "unhealthy during soak",
			change: func(ev *Evidence) { ev.Sites[0].Unhealthy = "web unhealthy at 11:50:00" },
			failed: map[string]string{GateSoak: "a (web unhealthy at 11:50:00)"},
		},
		{
			name: "error rate over the default limit during the soak",
			change: func(ev *Evidence) {
				ev.Sites[1].Samples = samples(now.Add(-19*time.Minute), "trades", 0.3, 0.02)
			},
			failed: map[string]string{GateTelemetry: "site b: trades 30.0% errors > 5.0%"},
		},
		{
			name: "p95 over the rung's limit",
			change: func(ev *Evidence) {
				to := *ev.To // staging is shared by every case
				to.Gates.MaxP95 = 200 * time.Millisecond
				ev.To = &to
				ev.Sites[0].Samples = samples(now.Add(-59*time.Minute), "trades", 0, 0.9)
			},
			failed: map[string]string{GateTelemetry: "trades p95 900ms > 200ms"},
		},
		{
			name: "errors after the soak window are not the soak's",
			change: func(ev *Evidence) {
				ev.Sites[1].Samples = samples(now.Add(-5*time.Minute), "trades", 0.5, 0.02)
			},
		},
		{
			name:   "test failed",
			change: func(ev *Evidence) { ev.Tests[0] = TestResult{Name: "smoke", Detail: "timed out after 1s"} },
			failed: map[string]string{"test:smoke": "timed out after 1s"},
		},
		{
			name:   "test not run",
			change: func(ev *Evidence) { ev.Tests = nil },
			failed: map[string]string{"test:smoke": "was not run"},
		},
		{
			name:   "same identity twice counts once",
			change: func(ev *Evidence) { ev.Approvals = []store.Approval{{By: "ana"}, {By: "ana"}} },
			failed: map[string]string{GateApprovals: "needs 2 approval(s), has 1 (ana)"},
		},
		{
			name:   "bad signature",
			change: func(ev *Evidence) { ev.SignatureErr = errors.New("snapshot abab: not signed") },
			failed: map[string]string{GateSignature: "not signed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := good()
			tt.change(&ev)
			results := Evaluate(ev)
			gates := map[string]store.GateResult{}
			var order []string
			for _, r := range results {
				gates[r.Gate] = r
				order = append(order, r.Gate)
				if !r.At.Equal(now) || r.Reason == "" {
					t.Errorf("gate %s: time %v, reason %q", r.Gate, r.At, r.Reason)
				}
			}
			want := []string{GatePreviousRung, GateSoak, GateTelemetry, "test:smoke", GateApprovals, GateSignature}
			if strings.Join(order, ",") != strings.Join(want, ",") {
				t.Fatalf("gates %v, want %v", order, want)
			}
			for _, r := range results {
				phrase, shouldFail := tt.failed[r.Gate]
				if r.Passed == shouldFail {
					t.Errorf("gate %s passed=%v (%s)", r.Gate, r.Passed, r.Reason)
				}
				if shouldFail && !strings.Contains(r.Reason, phrase) {
					t.Errorf("gate %s reason %q lacks %q", r.Gate, r.Reason, phrase)
				}
			}
			ok, failed := Passed(results)
			if ok != (len(tt.failed) == 0) || len(failed) != len(tt.failed) {
				t.Errorf("Passed = %v with %d failed, want %d failed", ok, len(failed), len(tt.failed))
			}
		})
	}
}

func TestEvaluateOnlyConfiguredGates(t *testing.T) {
	ev := Evidence{
		Snapshot: &snapshot.Snapshot{ID: strings.Repeat("cd", 32)},
		From:     &spec.Environment{Name: "local", Sites: []spec.Site{{Name: "default"}}},
		To:       &spec.Environment{Name: "dev", From: "local"},
		Sites:    []SiteEvidence{{Site: "default", Current: true}},
	}
	// The telemetry gate is always there: every rung has an error-rate
	// limit (spec.DefaultMaxErrorRate when it sets none).
	results := Evaluate(ev)
	if len(results) != 2 || results[0].Gate != GatePreviousRung || !results[0].Passed || results[1].Gate != GateTelemetry || !results[1].Passed {
		t.Fatalf("an environment without gates gets %+v, want only the previous-rung and telemetry checks", results)
	}
	ev.To.Protected = true
	ev.SignatureErr = errors.New("snapshot cdcd is not signed")
	if results := Evaluate(ev); len(results) != 3 || results[2].Gate != GateSignature || results[2].Passed {
		t.Fatalf("a protected environment must verify the signature: %+v", results)
	}
}
