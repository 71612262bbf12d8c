package watch

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestWatcherCoalescesAndFollowsNewDirectories(t *testing.T) {
	dir := t.TempDir()
	rules := []Rule{{Service: "web", Action: Sync, Path: dir, Target: "/app", Recursive: true}}
	w, err := New(rules, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Longer than the default: a busy test machine can pause between two
	// writes of the burst for longer than an editor ever does.
	w.Coalesce = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := make(chan []string, 10)
	go w.Run(ctx, func(p []string) { batches <- p })

	a := filepath.Join(dir, "a.txt")
	for i := range 5 { // a burst: one batch
		if err := os.WriteFile(a, []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sub := filepath.Join(dir, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(sub, "b.txt")
	os.WriteFile(b, []byte("b"), 0o644)
	// The burst on a is one batch. The new directory comes in that batch
	// or, on a machine slow enough that a quiet spell of Coalesce fell
	// between the burst and the mkdir, in the next one.
	got := next(t, batches)
	if !slices.Contains(got, a) {
		t.Fatalf("first batch %v lacks %s", got, a)
	}
	for !slices.Contains(got, sub) {
		more := next(t, batches)
		if slices.Contains(more, a) {
			t.Fatalf("the burst on %s came in two batches: %v, then %v", a, got, more)
		}
		got = append(got, more...)
	}
	if !slices.Contains(got, b) {
		// b landed after the directory was followed: its own batch.
		os.WriteFile(b, []byte("bb"), 0o644)
		got = next(t, batches)
	}
	if !slices.Contains(got, b) {
		t.Fatalf("batch %v lacks %s in the new directory", got, b)
	}
}

func next(t *testing.T, ch chan []string) []string {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no batch within 5s")
		return nil
	}
}
