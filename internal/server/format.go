package server

import (
	"fmt"
	"math"

	"github.com/ladderhq/ladder/internal/store"
)

// How states and numbers look on the page. Classes come from fixed sets
// so no value from the source ever becomes a class name.

// healthClass maps a health value to one of a fixed set of CSS classes, so
// an unexpected value from the source cannot inject a class name.
func healthClass(h string) string {
	switch h {
	case "healthy":
		return "ok"
	case "unhealthy":
		return "bad"
	case "starting":
		return "warn"
	case "running":
		return "info"
	default:
		return "off"
	}
}

func phaseClass(p store.Phase) string {
	switch p {
	case store.PhaseSucceeded:
		return "ok"
	case store.PhaseFailed:
		return "bad"
	case store.PhaseInterrupted:
		return "warn"
	default:
		return "busy"
	}
}

func kindClass(k store.EventKind) string {
	switch k {
	case store.EventDeploySucceeded, store.EventSnapshotCreated, store.EventBuilt:
		return "ok"
	case store.EventDeployFailed:
		return "bad"
	case store.EventRestarted, store.EventDrift, store.EventDeployRecovered, store.EventHealthChanged:
		return "warn"
	case store.EventDeployStarted, store.EventInstanceStarted:
		return "info"
	default:
		return "off"
	}
}

func errorClass(rate float64) string {
	switch {
	case rate >= 0.05:
		return "bad"
	case rate >= 0.01:
		return "warn"
	default:
		return ""
	}
}

func fmtRate(v float64) string {
	v = finite(v)
	switch {
	case v == 0:
		return "0/s"
	case v < 10:
		return fmt.Sprintf("%.1f/s", v)
	default:
		return fmt.Sprintf("%.0f/s", v)
	}
}

func fmtPercent(frac float64) string {
	pct := finite(frac) * 100
	switch {
	case pct == 0:
		return "0%"
	case pct < 0.01:
		return "<0.01%"
	case pct < 1:
		return fmt.Sprintf("%.2f%%", pct)
	default:
		return fmt.Sprintf("%.1f%%", pct)
	}
}

func fmtMillis(seconds float64) string {
	ms := finite(seconds) * 1000
	switch {
	case ms == 0:
		return "—"
	case ms < 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.0f ms", ms)
	}
}

// scalePercent and scaleMillis label a sparkline's axis, whose values are
// already in percent and milliseconds; zero is "0", never a dash.
func scalePercent(pct float64) string {
	if finite(pct) == 0 {
		return "0%"
	}
	return fmtPercent(pct / 100)
}

func scaleMillis(ms float64) string {
	if finite(ms) == 0 {
		return "0 ms"
	}
	return fmtMillis(ms / 1000)
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
