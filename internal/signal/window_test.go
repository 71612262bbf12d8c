package signal

import (
	"math"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

func TestWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 10, 0, time.UTC)
	at := func(sec int) time.Time { return now.Add(time.Duration(sec) * time.Second) }
	tests := []struct {
		name    string
		samples []store.Sample
		want    store.Sample
		ok      bool
	}{
		{name: "empty", ok: false},
		{
			name:    "all outside the window",
			samples: []store.Sample{{Time: at(-30), RequestRate: 5}},
			ok:      false,
		},
		{
			name: "busy and quiet seconds",
			samples: []store.Sample{
				{Time: at(-20), RequestRate: 1000, ErrorRate: 1, P95: 9}, // outside
				{Time: at(-3), Snapshot: "a", RequestRate: 30, ErrorRate: 0.1, P50: 0.01, P95: 0.1},
				{Time: at(-2), Snapshot: "a", RequestRate: 0},
				{Time: at(-1), Snapshot: "b", RequestRate: 10, ErrorRate: 0.5, P50: 0.05, P95: 0.3},
			},
			// mean rate (30+0+10)/3; errors (3+5)/40; p50 (0.3+0.5)/40; p95 (3+3)/40
			want: store.Sample{Time: at(-1), Snapshot: "b", RequestRate: 40.0 / 3, ErrorRate: 0.2, P50: 0.02, P95: 0.15},
			ok:   true,
		},
		{
			name:    "no requests at all",
			samples: []store.Sample{{Time: at(-1), RequestRate: 0, P95: 7}},
			want:    store.Sample{Time: at(-1)},
			ok:      true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Window(tt.samples, now, 10*time.Second)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
			if !got.Time.Equal(tt.want.Time) || got.Snapshot != tt.want.Snapshot ||
				!near(got.RequestRate, tt.want.RequestRate) || !near(got.ErrorRate, tt.want.ErrorRate) ||
				!near(got.P50, tt.want.P50) || !near(got.P95, tt.want.P95) {
				t.Errorf("Window = %+v, want %+v", got, tt.want)
			}
		})
	}
}
