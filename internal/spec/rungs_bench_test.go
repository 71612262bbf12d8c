package spec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// longLadder is a ladder file of n rungs, each promoting from the one
// before.
func longLadder(n int) string {
	var b strings.Builder
	b.WriteString("environments:\n")
	for i := range n {
		// Small rungs, so that 8,000 stay inside the node budget.
		fmt.Fprintf(&b, "  e%d:\n    data: seeded\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "    from: e%d\n", i-1)
		}
	}
	return b.String()
}

func loadLongLadder(tb testing.TB, n int) time.Duration {
	dir := tb.TempDir()
	for name, data := range map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n", "ladder.yaml": longLadder(n)} {
		if err := writeFile(dir, name, data); err != nil {
			tb.Fatal(err)
		}
	}
	begun := time.Now()
	p, err := Load(context.Background(), dir, LoadOptions{})
	took := time.Since(begun)
	if err != nil {
		tb.Fatal(err)
	}
	if len(p.Ladder.Environments) != n {
		tb.Fatalf("%d environments, want %d", len(p.Ladder.Environments), n)
	}
	return took
}

// Checking a ladder grows linearly with its rungs: 8,000 rungs take about
// eight times what 1,000 take (it was quadratic: 8,000 took 0.9 s).
func TestLongLadderChecksInLinearTime(t *testing.T) {
	loadLongLadder(t, 100) // warm up
	small := min(loadLongLadder(t, 1000), loadLongLadder(t, 1000), loadLongLadder(t, 1000))
	large := min(loadLongLadder(t, 8000), loadLongLadder(t, 8000), loadLongLadder(t, 8000))
	t.Logf("1,000 rungs %s, 8,000 rungs %s (%.1fx)", small, large, float64(large)/float64(small))
	// Linear is 8x; quadratic is 64x or more (104x before the fix on a
	// loaded machine). Allow for noise.
	if large > 40*small {
		t.Errorf("8,000 rungs took %s, %.0fx 1,000 rungs (%s): not linear", large, float64(large)/float64(small), small)
	}
}

func BenchmarkLoadLadder8000Rungs(b *testing.B) {
	for b.Loop() {
		loadLongLadder(b, 8000)
	}
}

func writeFile(dir, name, data string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
}
