package drift

import (
	"fmt"
	"testing"

	"github.com/ladderhq/ladder/internal/render"
)

func TestComparePorts(t *testing.T) {
	p := func(target, published int, proto string) render.Port {
		return render.Port{Target: target, Published: published, Protocol: proto}
	}
	tests := []struct {
		name       string
		want, have []render.Port
		diff       string
	}{
		{"none", nil, nil, "[]"},
		{"exposed only", nil, []render.Port{p(80, 0, "tcp")}, "[]"},
		{"auto", []render.Port{p(80, 0, "tcp")}, []render.Port{p(80, 32768, "tcp")}, "[]"},
		{"protocol defaults to tcp", []render.Port{p(80, 8080, "")}, []render.Port{p(80, 8080, "TCP")}, "[]"},
		{"auto unpublished", []render.Port{p(80, 0, "tcp")}, []render.Port{p(80, 0, "tcp")},
			"[{80/tcp (any) (unpublished)}]"},
		{"auto twice", []render.Port{p(80, 0, "tcp")}, []render.Port{p(80, 1, "tcp"), p(80, 2, "tcp")},
			"[{80/tcp (any) 1, 2}]"},
		{"two fixed, one auto", []render.Port{p(80, 8080, "tcp"), p(80, 0, "tcp"), p(80, 8081, "tcp")},
			[]render.Port{p(80, 8081, "tcp"), p(80, 8080, "tcp"), p(80, 40000, "tcp")}, "[]"},
		{"two fixed, one moved", []render.Port{p(80, 8080, "tcp"), p(80, 8081, "tcp")},
			[]render.Port{p(80, 8080, "tcp"), p(80, 8082, "tcp")}, "[{80/tcp 8080, 8081 8080, 8082}]"},
		{"udp is another port", []render.Port{p(53, 5353, "udp")}, []render.Port{p(53, 5353, "tcp")},
			"[{53/tcp (unpublished) 5353} {53/udp 5353 (unpublished)}]"},
	}
	for _, tt := range tests {
		got := fmt.Sprint(comparePorts(tt.want, tt.have))
		if got != tt.diff {
			t.Errorf("%s: comparePorts = %s, want %s", tt.name, got, tt.diff)
		}
	}
}

// A host port range is honoured by any one port within it.
func TestComparePortRange(t *testing.T) {
	want := []render.Port{{Target: 70, Published: 8000, PublishedEnd: 8005, Protocol: "tcp"}}
	for _, tc := range []struct {
		have  int
		drift bool
	}{{8000, false}, {8003, false}, {8005, false}, {8006, true}, {7999, true}} {
		got := comparePorts(want, []render.Port{{Target: 70, Published: tc.have, Protocol: "tcp"}})
		if (len(got) > 0) != tc.drift {
			t.Errorf("published %d: %+v, want drift %v", tc.have, got, tc.drift)
		}
	}
	if got := comparePorts(want, nil); len(got) != 1 || got[0].want != "8000-8005" {
		t.Errorf("unpublished: %+v", got)
	}
}
