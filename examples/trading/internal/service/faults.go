package service

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Faults are the fault-injection knobs; the zero value injects nothing.
type Faults struct {
	ErrorRate  float64       // FAULT_ERROR_RATE
	Latency    time.Duration // FAULT_LATENCY
	HealthFail bool          // FAULT_HEALTH=fail
	Crash      Crash         // FAULT_CRASH
}

// Crash is the FAULT_CRASH knob: at most one of its fields is set.
type Crash struct {
	OnStart bool          // FAULT_CRASH=start
	After   time.Duration // FAULT_CRASH=after:<duration>
}

// Active reports whether any fault is switched on.
func (f Faults) Active() bool { return f != Faults{} }

// LogValue lists the active knobs, for the start-up warning.
func (f Faults) LogValue() slog.Value {
	var attrs []slog.Attr
	if f.ErrorRate > 0 {
		attrs = append(attrs, slog.Float64("error_rate", f.ErrorRate))
	}
	if f.Latency > 0 {
		attrs = append(attrs, slog.Duration("latency", f.Latency))
	}
	if f.HealthFail {
		attrs = append(attrs, slog.String("health", "fail"))
	}
	if f.Crash.OnStart {
		attrs = append(attrs, slog.String("crash", "start"))
	}
	if f.Crash.After > 0 {
		attrs = append(attrs, slog.Duration("crash_after", f.Crash.After))
	}
	return slog.GroupValue(attrs...)
}

// ParseFaults reads the FAULT_* knobs. Unset or empty means off.
func ParseFaults(getenv func(string) string) (Faults, error) {
	var f Faults
	var errs []error
	bad := func(key, val, want string) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", key, val, want))
	}

	if v := strings.TrimSpace(getenv("FAULT_ERROR_RATE")); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
			bad("FAULT_ERROR_RATE", v, "must be a fraction between 0 and 1, e.g. 0.2")
		} else {
			f.ErrorRate = r
		}
	}

	if v := strings.TrimSpace(getenv("FAULT_LATENCY")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			bad("FAULT_LATENCY", v, "must be a non-negative Go duration, e.g. 250ms")
		} else {
			f.Latency = d
		}
	}

	switch v := strings.TrimSpace(getenv("FAULT_HEALTH")); v {
	case "":
	case "fail":
		f.HealthFail = true
	default:
		bad("FAULT_HEALTH", v, `must be "fail" or empty`)
	}

	switch v := strings.TrimSpace(getenv("FAULT_CRASH")); {
	case v == "":
	case v == "start":
		f.Crash.OnStart = true
	case strings.HasPrefix(v, "after:"):
		d, err := time.ParseDuration(strings.TrimPrefix(v, "after:"))
		if err != nil || d <= 0 {
			bad("FAULT_CRASH", v, `"after:" must be followed by a positive Go duration, e.g. after:5s`)
		} else {
			f.Crash.After = d
		}
	default:
		bad("FAULT_CRASH", v, `must be "start", "after:<duration>" or empty`)
	}

	return f, errors.Join(errs...)
}

// errorInjector decides which requests fail under FAULT_ERROR_RATE. It
// spreads failures evenly instead of drawing them at random, so that after
// n requests exactly floor(n*rate) have failed: a short ladder soak sees
// the configured rate, not a lucky or unlucky sample of it.
type errorInjector struct {
	rate float64
	n    atomic.Uint64
}

// fail reports whether the next request should fail.
func (e *errorInjector) fail() bool {
	if e.rate <= 0 {
		return false
	}
	i := float64(e.n.Add(1))
	return math.Floor(i*e.rate) > math.Floor((i-1)*e.rate)
}
