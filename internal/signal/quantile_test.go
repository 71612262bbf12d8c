package signal

import (
	"math"
	"testing"
)

func TestHistogramQuantile(t *testing.T) {
	inf := math.Inf(+1)
	// Typical latency histogram: 100 observations.
	// (0,0.1]: 20, (0.1,0.25]: 30, (0.25,0.5]: 40, (0.5,1]: 5, >1: 5.
	typical := []Bucket{{0.1, 20}, {0.25, 50}, {0.5, 90}, {1, 95}, {inf, 100}}
	cases := []struct {
		name    string
		q       float64
		buckets []Bucket
		want    float64
	}{
		{"median in second bucket", 0.5, typical, 0.25},       // rank 50 = top of (0.1,0.25]
		{"p90 at bucket edge", 0.9, typical, 0.5},             // rank 90 = top of (0.25,0.5]
		{"p10 in first bucket from zero", 0.1, typical, 0.05}, // 10/20 of (0,0.1]
		{"p30 interpolated", 0.3, typical, 0.1 + 0.15*10/30},  // 10/30 into (0.1,0.25]
		{"p70 interpolated", 0.7, typical, 0.25 + 0.25*20/40}, // 20/40 into (0.25,0.5]
		{"p92 interpolated", 0.92, typical, 0.5 + 0.5*2/5},    // 2/5 into (0.5,1]
		{"p99 in +Inf bucket", 0.99, typical, 1},              // beyond every finite bound
		{"max in +Inf bucket", 1, typical, 1},                 // same
		{"q=0 is the start of the first non-empty bucket", 0, []Bucket{{0.1, 0}, {0.2, 5}, {inf, 5}}, 0.1},
		{"q=0 with a non-empty first bucket", 0, typical, 0},
		{"empty histogram", 0.5, []Bucket{{0.1, 0}, {1, 0}, {inf, 0}}, 0},
		{"no buckets", 0.5, nil, 0},
		{"only +Inf bucket", 0.5, []Bucket{{inf, 10}}, 0},
		{"no +Inf bucket", 0.5, []Bucket{{0.1, 5}, {1, 10}}, 0},
		{"all observations above finite buckets", 0.5, []Bucket{{0.1, 0}, {1, 0}, {inf, 7}}, 1},
		{"unsorted input", 0.5, []Bucket{{inf, 100}, {0.5, 90}, {0.1, 20}, {1, 95}, {0.25, 50}}, 0.25},
		{"duplicate bounds are added", 0.5, []Bucket{{1, 2}, {1, 2}, {2, 8}, {2, 8}, {inf, 10}, {inf, 10}}, 1 + 6.0/12},
		{"non-monotonic counts are fixed", 0.75, []Bucket{{1, 4}, {2, 3}, {3, 8}, {inf, 8}}, 2 + 1*2.0/4}, // (2,3] holds 4, not 5
		{"negative first bound is returned as is", 0.1, []Bucket{{-1, 5}, {0, 10}, {inf, 10}}, -1},
		{"q below 0", -0.1, typical, math.Inf(-1)},
		{"q above 1", 1.1, typical, math.Inf(+1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := HistogramQuantile(c.q, c.buckets); !near(got, c.want) && got != c.want {
				t.Errorf("HistogramQuantile(%v, %v) = %v, want %v", c.q, c.buckets, got, c.want)
			}
		})
	}
	if got := HistogramQuantile(math.NaN(), typical); !math.IsNaN(got) {
		t.Errorf("NaN q gave %v", got)
	}
}

func TestHistogramQuantileDoesNotModifyInput(t *testing.T) {
	in := []Bucket{{math.Inf(+1), 10}, {1, 2}, {1, 3}}
	HistogramQuantile(0.5, in)
	if in[0].UpperBound != math.Inf(+1) || in[1].Count != 2 || in[2].Count != 3 {
		t.Errorf("input modified: %v", in)
	}
}

func TestMergeHistograms(t *testing.T) {
	got := mergeHistograms([]histSeries{
		{count: 10, buckets: []Bucket{{0.1, 4}, {1, 8}}},
		{count: 6, buckets: []Bucket{{0.5, 3}, {1, 5}}},
	})
	want := []Bucket{{0.1, 4}, {0.5, 4 + 3}, {1, 8 + 5}, {math.Inf(+1), 16}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got, want)
			break
		}
	}
}

func BenchmarkQuantile(b *testing.B) {
	inf := math.Inf(+1)
	// The default client_golang buckets, as one merged service histogram.
	buckets := []Bucket{
		{0.005, 10}, {0.01, 40}, {0.025, 120}, {0.05, 300}, {0.1, 520}, {0.25, 800},
		{0.5, 930}, {1, 980}, {2.5, 995}, {5, 999}, {10, 1000}, {inf, 1000},
	}
	for b.Loop() {
		HistogramQuantile(0.5, buckets)
		HistogramQuantile(0.95, buckets)
	}
}
