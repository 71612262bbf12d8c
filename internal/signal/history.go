package signal

import (
	"sync"

	"github.com/ladderhq/ladder/internal/store"
)

// DefaultHistoryLen is how many samples History keeps per service when not
// told otherwise: two hours at one sample a minute, or two minutes at one a
// second, which is what a dashboard sparkline or a canary comparison needs.
const DefaultHistoryLen = 120

// History keeps the most recent samples of each (env, site, service) in
// memory, so the UI and release checks can read recent signals without a
// round trip to the store. A series spans snapshots on purpose: the point
// of watching a service is to see what a new snapshot changed, and each
// sample still names the snapshot it was measured on. It is safe for
// concurrent use.
type History struct {
	size int

	mu     sync.RWMutex
	series map[historyKey]*ring
}

type historyKey struct{ env, site, service string }

// ring is a fixed-size circular buffer: adding is O(1) and never
// reallocates, which matters when every scrape round adds to it.
type ring struct {
	buf   []store.Sample
	start int // index of the oldest sample
	n     int
}

// NewHistory returns a History keeping the last size samples per service
// (DefaultHistoryLen if size <= 0).
func NewHistory(size int) *History {
	if size <= 0 {
		size = DefaultHistoryLen
	}
	return &History{size: size, series: make(map[historyKey]*ring)}
}

// Add records samples. Each sample is placed in time order within its
// series, so a late sample (from a slow scrape) does not scramble it; when
// a series is full its oldest sample is dropped.
func (h *History) Add(samples []store.Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range samples {
		k := historyKey{s.Env, s.Site, s.Service}
		r := h.series[k]
		if r == nil {
			r = &ring{buf: make([]store.Sample, h.size)}
			h.series[k] = r
		}
		r.add(s)
	}
}

// Series returns the samples kept for a service, oldest first. The slice is
// the caller's own.
func (h *History) Series(env, site, service string) []store.Sample {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r := h.series[historyKey{env, site, service}]
	if r == nil {
		return nil
	}
	out := make([]store.Sample, r.n)
	for i := range r.n {
		out[i] = r.at(i)
	}
	return out
}

// Latest returns the newest sample kept for a service.
func (h *History) Latest(env, site, service string) (store.Sample, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r := h.series[historyKey{env, site, service}]
	if r == nil || r.n == 0 {
		return store.Sample{}, false
	}
	return r.at(r.n - 1), true
}

func (r *ring) at(i int) store.Sample { return r.buf[(r.start+i)%len(r.buf)] }

func (r *ring) set(i int, s store.Sample) { r.buf[(r.start+i)%len(r.buf)] = s }

func (r *ring) add(s store.Sample) {
	// Find where s belongs: after every sample not newer than it. Samples
	// nearly always arrive in order, so this scan usually stops at once.
	pos := r.n
	for pos > 0 && r.at(pos-1).Time.After(s.Time) {
		pos--
	}
	if r.n == len(r.buf) {
		if pos == 0 {
			// Older than everything in a full series: it would be
			// dropped at once.
			return
		}
		// Drop the oldest to make room; positions shift down by one.
		r.start = (r.start + 1) % len(r.buf)
		r.n--
		pos--
	}
	for i := r.n; i > pos; i-- {
		r.set(i, r.at(i-1))
	}
	r.set(pos, s)
	r.n++
}
