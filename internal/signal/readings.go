package signal

import (
	"math"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ladderhq/ladder/internal/store"
)

// reading is what one scrape of one target kept: only the series ladder
// computes signals from, keyed by their label set so that the next reading
// can be matched series by series.
type reading struct {
	at       time.Time
	requests map[string]counterSeries
	latency  map[string]histSeries
}

type counterSeries struct {
	value   float64
	isError bool // the code label is 5xx
}

// histSeries is one classic histogram: its finite buckets in exposition
// order (cumulative) and its total count, which is the +Inf bucket.
type histSeries struct {
	count   float64
	buckets []Bucket
}

// parseReading extracts the request counter and the duration histogram
// from decoded families. Untyped families are accepted for the counter
// because text exporters that omit "# TYPE" produce them. Non-finite values
// are dropped: they would poison every rate they touch.
func parseReading(at time.Time, fams []*dto.MetricFamily, names MetricNames) *reading {
	r := &reading{at: at, requests: map[string]counterSeries{}, latency: map[string]histSeries{}}
	for _, mf := range fams {
		switch mf.GetName() {
		case names.Requests:
			for _, m := range mf.GetMetric() {
				var v float64
				switch mf.GetType() {
				case dto.MetricType_COUNTER:
					v = m.GetCounter().GetValue()
				case dto.MetricType_UNTYPED:
					v = m.GetUntyped().GetValue()
				default:
					continue
				}
				if !finite(v) {
					continue
				}
				r.requests[labelKey(m)] = counterSeries{value: v, isError: isServerError(m, names.CodeLabel)}
			}
		case names.Duration:
			if mf.GetType() != dto.MetricType_HISTOGRAM {
				continue
			}
			for _, m := range mf.GetMetric() {
				if h, ok := classicHistogram(m.GetHistogram()); ok {
					r.latency[labelKey(m)] = h
				}
			}
		}
	}
	return r
}

// classicHistogram converts a histogram's classic buckets. The +Inf
// bucket, when an exposition carries it, is dropped because the sample
// count already says the same; a histogram with only native buckets has
// no classic ones and is skipped.
func classicHistogram(h *dto.Histogram) (histSeries, bool) {
	if h == nil {
		return histSeries{}, false
	}
	hs := histSeries{count: float64(h.GetSampleCount())}
	if h.SampleCountFloat != nil {
		hs.count = h.GetSampleCountFloat()
	}
	for _, b := range h.GetBucket() {
		if math.IsInf(b.GetUpperBound(), +1) {
			continue
		}
		c := float64(b.GetCumulativeCount())
		if b.CumulativeCountFloat != nil {
			c = b.GetCumulativeCountFloat()
		}
		if !finite(c) || math.IsNaN(b.GetUpperBound()) {
			return histSeries{}, false
		}
		hs.buckets = append(hs.buckets, Bucket{UpperBound: b.GetUpperBound(), Count: c})
	}
	if len(hs.buckets) == 0 || !finite(hs.count) {
		return histSeries{}, false
	}
	return hs, true
}

func isServerError(m *dto.Metric, codeLabel string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == codeLabel {
			// "500".."599", and "5xx" from exporters that bucket codes.
			v := l.GetValue()
			return len(v) == 3 && v[0] == '5'
		}
	}
	return false
}

// labelKey identifies a series within its family by its label set,
// whatever order the exposition listed the labels in.
func labelKey(m *dto.Metric) string {
	pairs := make([]string, 0, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		pairs = append(pairs, l.GetName()+"\xff"+l.GetValue())
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "\xfe")
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// counterDelta returns how many requests, and how many of them 5xx, were
// counted between two readings. A series lower than before has been reset
// (the process restarted), so, as Prometheus does, its whole new value is
// the increase since the reset. A series absent before started from zero
// after the previous reading (client libraries create a labelled series on
// its first increment), so its whole value is new too: the first 5xx
// after a clean run is exactly such a series.
func counterDelta(prev, cur map[string]counterSeries) (total, errs float64) {
	for k, c := range cur {
		d := c.value
		if p, ok := prev[k]; ok && c.value >= p.value {
			d = c.value - p.value
		}
		total += d
		if c.isError {
			errs += d
		}
	}
	return total, errs
}

// histDelta returns, per series, the observations made between two
// readings, with the same reset and new-series rules as counterDelta. A
// change of bucket layout can only come from a new process, so it is a
// reset too.
func histDelta(prev, cur map[string]histSeries) []histSeries {
	out := make([]histSeries, 0, len(cur))
	for k, c := range cur {
		p, ok := prev[k]
		if !ok || histReset(p, c) {
			out = append(out, c)
			continue
		}
		d := histSeries{count: c.count - p.count, buckets: make([]Bucket, len(c.buckets))}
		for i, b := range c.buckets {
			d.buckets[i] = Bucket{UpperBound: b.UpperBound, Count: b.Count - p.buckets[i].Count}
		}
		out = append(out, d)
	}
	return out
}

func histReset(p, c histSeries) bool {
	if c.count < p.count || len(c.buckets) != len(p.buckets) {
		return true
	}
	for i := range c.buckets {
		if c.buckets[i].UpperBound != p.buckets[i].UpperBound || c.buckets[i].Count < p.buckets[i].Count {
			return true
		}
	}
	return false
}

// mergeHistograms adds cumulative histograms together, ready for
// HistogramQuantile. Series normally share one bucket layout; when they do
// not, each series contributes at every bound of the union its count at
// its own largest bound not above it, which never overstates how many
// observations lie below a bound.
func mergeHistograms(hs []histSeries) []Bucket {
	var bounds []float64
	var total float64
	for _, h := range hs {
		total += h.count
		for _, b := range h.buckets {
			bounds = append(bounds, b.UpperBound)
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	out := make([]Bucket, len(bounds), len(bounds)+1)
	for i, ub := range bounds {
		out[i].UpperBound = ub
	}
	for _, h := range hs {
		j, last := 0, 0.0
		for i, ub := range bounds {
			for j < len(h.buckets) && h.buckets[j].UpperBound <= ub {
				last = h.buckets[j].Count
				j++
			}
			out[i].Count += last
		}
	}
	return append(out, Bucket{UpperBound: math.Inf(+1), Count: total})
}

// groupKey is what a sample describes: a service of a snapshot on a site.
type groupKey struct{ env, site, snapshot, service string }

type groupAcc struct {
	at        time.Time
	rate      float64
	reqs, err float64
	hists     []histSeries
}

// aggregator adds the replicas of each service together.
type aggregator struct{ groups map[groupKey]*groupAcc }

func newAggregator() *aggregator { return &aggregator{groups: map[groupKey]*groupAcc{}} }

// add accounts for one replica's change between prev and cur. Rates are
// computed per replica over its own interval before being summed, because
// replicas are not read at exactly the same instant.
func (a *aggregator) add(t ScrapeTarget, prev, cur *reading) {
	k := groupKey{t.Env, t.Site, t.Snapshot, t.Service}
	g := a.groups[k]
	if g == nil {
		g = &groupAcc{}
		a.groups[k] = g
	}
	if cur.at.After(g.at) {
		g.at = cur.at
	}
	total, errs := counterDelta(prev.requests, cur.requests)
	g.rate += total / cur.at.Sub(prev.at).Seconds()
	g.reqs += total
	g.err += errs
	g.hists = append(g.hists, histDelta(prev.latency, cur.latency)...)
}

func (a *aggregator) samples() []store.Sample {
	out := make([]store.Sample, 0, len(a.groups))
	for k, g := range a.groups {
		s := store.Sample{
			Time: g.at, Env: k.env, Site: k.site, Snapshot: k.snapshot, Service: k.service,
			RequestRate: g.rate,
		}
		if g.reqs > 0 {
			s.ErrorRate = g.err / g.reqs
		}
		if len(g.hists) > 0 {
			buckets := mergeHistograms(g.hists)
			s.P50 = HistogramQuantile(0.5, buckets)
			s.P95 = HistogramQuantile(0.95, buckets)
		}
		out = append(out, s)
	}
	sortSamples(out)
	return out
}
