package spec

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkLoadDemo is the cost of loading and validating the demo stack
// and ladder file, as every command does first.
func BenchmarkLoadDemo(b *testing.B) {
	dir := filepath.Join("..", "..", "examples", "trading")
	ctx := context.Background()
	for b.Loop() {
		if _, err := Load(ctx, dir, LoadOptions{Env: []string{"WEB_PORT=3000"}}); err != nil {
			b.Fatal(err)
		}
	}
}
