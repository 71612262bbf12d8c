package signal

import (
	"math"
	"slices"
	"sort"
)

// Bucket is one bucket of a classic (cumulative) histogram: Count
// observations were less than or equal to UpperBound.
type Bucket struct {
	UpperBound float64
	Count      float64
}

// HistogramQuantile estimates the q-quantile (0 <= q <= 1) of the
// observations in a cumulative histogram the way PromQL's
// histogram_quantile does for classic histograms: find the bucket holding
// the rank q*total and interpolate linearly inside it, assuming the
// observations are spread evenly between the bucket's bounds. The lowest
// bucket is taken to start at 0 (unless its upper bound is <= 0, in which
// case that bound is returned), and a rank that falls in the +Inf bucket
// yields the upper bound of the last finite bucket, since nothing better is
// known.
//
// It differs from PromQL where PromQL returns NaN: an empty histogram, one
// without a +Inf bucket or with no finite bucket gives 0, because ladder's
// samples must be NaN-free and "no latency observed" is what those cases
// mean to a reader. A q outside [0, 1] gives -Inf or +Inf and a NaN q gives
// NaN, as in PromQL.
//
// buckets is not modified; it may be in any order, and buckets sharing an
// upper bound are added together (as when histograms of several series are
// merged). Counts that decrease with the bound, which happens when the
// buckets were read at slightly different moments, are raised to keep the
// histogram cumulative, as PromQL does.
func HistogramQuantile(q float64, buckets []Bucket) float64 {
	switch {
	case math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(+1)
	}
	if len(buckets) < 2 {
		return 0
	}
	bs := slices.Clone(buckets)
	slices.SortFunc(bs, func(a, b Bucket) int {
		switch {
		case a.UpperBound < b.UpperBound:
			return -1
		case a.UpperBound > b.UpperBound:
			return 1
		}
		return 0
	})
	if !math.IsInf(bs[len(bs)-1].UpperBound, +1) {
		return 0
	}
	bs = coalesceBuckets(bs)
	if len(bs) < 2 {
		return 0
	}
	for i := 1; i < len(bs); i++ {
		if bs[i].Count < bs[i-1].Count {
			bs[i].Count = bs[i-1].Count
		}
	}
	total := bs[len(bs)-1].Count
	if total <= 0 {
		return 0
	}
	rank := q * total
	// The +Inf bucket is left out of the search: landing there means the
	// quantile lies beyond every finite bound. Requiring Count > 0 makes
	// q=0 land on the first bucket that holds anything instead of dividing
	// by an empty bucket's zero count.
	b := sort.Search(len(bs)-1, func(i int) bool {
		return bs[i].Count >= rank && bs[i].Count > 0
	})
	if b == len(bs)-1 {
		return bs[len(bs)-2].UpperBound
	}
	if b == 0 && bs[0].UpperBound <= 0 {
		return bs[0].UpperBound
	}
	start, end, count := 0.0, bs[b].UpperBound, bs[b].Count
	if b > 0 {
		start = bs[b-1].UpperBound
		count -= bs[b-1].Count
		rank -= bs[b-1].Count
	}
	return start + (end-start)*(rank/count)
}

// coalesceBuckets adds together adjacent buckets of a sorted slice that
// share an upper bound, in place.
func coalesceBuckets(bs []Bucket) []Bucket {
	out := bs[:1]
	for _, b := range bs[1:] {
		if b.UpperBound == out[len(out)-1].UpperBound {
			out[len(out)-1].Count += b.Count
			continue
		}
		out = append(out, b)
	}
	return out
}
