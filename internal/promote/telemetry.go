package promote

import (
	"fmt"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/signal"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// GateTelemetry is the gate on the snapshot's error rate and latency on
// the previous rung.
const GateTelemetry = "telemetry"

// Limits bound a release's telemetry over its soak. The promotion gate
// and known-good marking both take them from the rung's gates (LimitsOf)
// and both judge with CheckTelemetry, so a release that may not be
// promoted is never one a rollback returns to.
type Limits struct {
	// MaxErrorRate is the highest fraction (0..1) of 5xx answers.
	MaxErrorRate float64
	// MaxP95 is the highest p95 latency; 0 sets no limit.
	MaxP95 time.Duration
}

// LimitsOf reads a rung's telemetry limits.
func LimitsOf(g spec.Gates) Limits {
	return Limits{MaxErrorRate: g.ErrorRateLimit(), MaxP95: g.MaxP95}
}

// Stricter is the tighter of two sets of limits, for an environment that
// several rungs promote from.
func (l Limits) Stricter(o Limits) Limits {
	out := Limits{MaxErrorRate: min(l.MaxErrorRate, o.MaxErrorRate), MaxP95: l.MaxP95}
	if o.MaxP95 > 0 && (out.MaxP95 == 0 || o.MaxP95 < out.MaxP95) {
		out.MaxP95 = o.MaxP95
	}
	return out
}

func (l Limits) String() string {
	s := "error rate ≤ " + percent(l.MaxErrorRate)
	if l.MaxP95 > 0 {
		s += ", p95 ≤ " + l.MaxP95.String()
	}
	return s
}

// soakWindow is the span a release's telemetry is judged over: its soak
// from when it finished, or, on a rung without a soak, all it ran until
// now. It ends at now at the latest.
func soakWindow(since time.Time, soak time.Duration, now time.Time) (time.Time, time.Time) {
	end := now
	if soak > 0 && since.Add(soak).Before(now) {
		end = since.Add(soak)
	}
	return since, end
}

// TelemetryVerdict is how a release's services fared against Limits.
type TelemetryVerdict struct {
	OK bool
	// Reason names every service over a limit, and by how much, when
	// !OK; otherwise what
	// each measured service showed and which services, having no
	// metrics or no traffic, were judged on health alone.
	Reason string
}

// CheckTelemetry judges each of services by its samples between from and
// to (inclusive): its error rate (5xx over all requests) and p95 latency
// (request-weighted over the samples, as signal.Window sums them) must be
// within l. A service with no samples exports no metrics, and one with
// samples but no requests had no traffic: both are judged on health alone,
// and the reason says so. It is pure.
func CheckTelemetry(services []string, samples []store.Sample, from, to time.Time, l Limits) TelemetryVerdict {
	by := map[string][]store.Sample{}
	for _, s := range samples {
		by[s.Service] = append(by[s.Service], s)
	}
	var over, within, noMetrics, noTraffic []string
	for _, name := range services {
		w, ok := signal.Window(by[name], to, to.Sub(from))
		switch {
		case !ok:
			noMetrics = append(noMetrics, name)
		case w.RequestRate == 0:
			noTraffic = append(noTraffic, name)
		default:
			p95 := time.Duration(w.P95 * float64(time.Second)).Round(time.Millisecond)
			var bad []string
			if w.ErrorRate > l.MaxErrorRate {
				bad = append(bad, fmt.Sprintf("%s errors > %s", percent(w.ErrorRate), percent(l.MaxErrorRate)))
			}
			if l.MaxP95 > 0 && p95 > l.MaxP95 {
				bad = append(bad, fmt.Sprintf("p95 %s > %s", p95, l.MaxP95))
			}
			if len(bad) > 0 {
				over = append(over, name+" "+strings.Join(bad, ", "))
			} else {
				within = append(within, fmt.Sprintf("%s %s errors, p95 %s", name, percent(w.ErrorRate), p95))
			}
		}
	}
	if len(over) > 0 {
		return TelemetryVerdict{Reason: strings.Join(over, "; ") + " (limits: " + l.String() + ")"}
	}
	var parts []string
	if len(within) > 0 {
		parts = append(parts, "within "+l.String()+": "+strings.Join(within, "; "))
	}
	if len(noMetrics) > 0 {
		parts = append(parts, "no metrics from "+strings.Join(noMetrics, ", ")+" (judged on health alone)")
	}
	if len(noTraffic) > 0 {
		parts = append(parts, "no requests to "+strings.Join(noTraffic, ", ")+" (judged on health alone)")
	}
	if len(parts) == 0 {
		parts = append(parts, "no services to measure")
	}
	return TelemetryVerdict{OK: true, Reason: strings.Join(parts, "; ")}
}

func percent(f float64) string {
	return fmt.Sprintf("%.1f%%", f*100)
}

// KnownGoodEvidence is what deciding whether a release is known-good
// takes.
type KnownGoodEvidence struct {
	Release store.Release
	// Env is the release's environment.
	Env string
	// Soak is how long it must run healthy (soakOf), Limits what its
	// telemetry must keep within meanwhile (limitsOf).
	Soak   time.Duration
	Limits Limits
	// Services are the stack's services.
	Services []string
	// Trouble is the first sign of ill health since the release finished
	// (troubleSince), empty when there was none.
	Trouble string
	// Samples are the release's snapshot's samples on its site since it
	// finished.
	Samples []store.Sample
	Now     time.Time
}

// KnownGoodVerdict says whether a release is known-good and why.
type KnownGoodVerdict struct {
	// Final is false while the release still soaks: nothing is decided.
	Final     bool
	KnownGood bool
	Reason    string
}

// JudgeKnownGood decides whether a release is known-good: once its soak
// is over, it is when every service stayed healthy and its telemetry kept
// within the limits over the soak. It is pure, like Evaluate.
func JudgeKnownGood(ev KnownGoodEvidence) KnownGoodVerdict {
	r := ev.Release
	if left := r.Finished.Add(ev.Soak).Sub(ev.Now); left > 0 {
		return KnownGoodVerdict{Reason: fmt.Sprintf("soaking: %s more of the %s soak", left.Round(time.Second), ev.Soak)}
	}
	if ev.Trouble != "" {
		return KnownGoodVerdict{Final: true, Reason: "not healthy after it was released: " + ev.Trouble}
	}
	from, to := soakWindow(r.Finished, ev.Soak, ev.Now)
	t := CheckTelemetry(ev.Services, ev.Samples, from, to, ev.Limits)
	soak := "since it was released"
	if ev.Soak > 0 {
		soak = "over its " + ev.Soak.String() + " soak"
	}
	if !t.OK {
		return KnownGoodVerdict{Final: true, Reason: fmt.Sprintf("over the rung's limits %s on %s: %s", soak, ev.Env, t.Reason)}
	}
	return KnownGoodVerdict{Final: true, KnownGood: true, Reason: fmt.Sprintf("healthy %s on %s; %s", soak, ev.Env, t.Reason)}
}
