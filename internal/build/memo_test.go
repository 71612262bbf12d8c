package build

import (
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
)

func TestMemoKeepsNewestImagesWithinItsBound(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name  string
		sizes []int64 // kept in order, as digests d0, d1, ...
		want  []int   // indexes still held afterwards
	}{
		{"all fit", []int64{10 * mib, 20 * mib, 30 * mib}, []int{0, 1, 2}},
		{"oldest dropped first", []int64{60 * mib, 60 * mib, 60 * mib}, []int{1, 2}},
		{"several dropped for one large", []int64{40 * mib, 40 * mib, 40 * mib, 100 * mib}, []int{3}},
		{"larger than the bound is not held", []int64{10 * mib, maxFreshBytes + 1}, []int{0}},
		{"exactly the bound", []int64{maxFreshBytes}, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemo()
			for i, size := range tt.sizes {
				m.keep(fmt.Sprintf("sha256:d%d", i), empty.Image, size)
			}
			held := map[int]bool{}
			for _, i := range tt.want {
				held[i] = true
			}
			var total int64
			for i := range tt.sizes {
				_, ok := m.image(fmt.Sprintf("sha256:d%d", i))
				if ok != held[i] {
					t.Errorf("d%d held = %v, want %v", i, ok, held[i])
				}
				if ok {
					total += tt.sizes[i]
				}
			}
			if total > maxFreshBytes || m.bytes != total {
				t.Errorf("memo accounts %d bytes, holds %d (bound %d)", m.bytes, total, maxFreshBytes)
			}
		})
	}
}

func TestMemoKeepIsIdempotent(t *testing.T) {
	m := NewMemo()
	m.keep("sha256:a", empty.Image, 100)
	m.keep("sha256:a", empty.Image, 100)
	if m.bytes != 100 || len(m.order) != 1 {
		t.Fatalf("keeping one digest twice: %d bytes, %d entries; want 100, 1", m.bytes, len(m.order))
	}
}
