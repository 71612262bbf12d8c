package signal

import (
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// Window sums up the samples of the last d before now into one: the mean
// request rate, and the error rate and latency quantiles weighted by each
// sample's request rate, so a quiet second does not dilute a busy one.
// Quantiles averaged this way are an approximation of the window's true
// quantiles (which would need the raw buckets), good enough to show a
// trend to people; analysis that gates a rollout uses the samples
// themselves. It reports false when no sample falls in the window.
func Window(samples []store.Sample, now time.Time, d time.Duration) (store.Sample, bool) {
	var out store.Sample
	var n int
	var weight float64
	for _, s := range samples {
		if s.Time.Before(now.Add(-d)) || s.Time.After(now) {
			continue
		}
		if n == 0 {
			out = store.Sample{Env: s.Env, Site: s.Site, Service: s.Service}
		}
		n++
		out.Time = s.Time
		out.Snapshot = s.Snapshot
		out.RequestRate += s.RequestRate
		out.ErrorRate += s.ErrorRate * s.RequestRate
		out.P50 += s.P50 * s.RequestRate
		out.P95 += s.P95 * s.RequestRate
		weight += s.RequestRate
	}
	if n == 0 {
		return store.Sample{}, false
	}
	out.RequestRate /= float64(n)
	if weight > 0 {
		out.ErrorRate /= weight
		out.P50 /= weight
		out.P95 /= weight
	} else {
		out.ErrorRate, out.P50, out.P95 = 0, 0, 0
	}
	return out, true
}
