package watch

import (
	"context"
	"errors"
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
	go w.Run(ctx, func(_ context.Context, p []string) bool { batches <- p; return false })

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

// A change while a batch is being handled ends the batch's context with
// ErrSuperseded and makes the next batch. What the handler says it
// dropped comes again in that batch, with the newer change; what it
// finished does not. The batch after a superseded one is not superseded.
// When Run's context ends, Run waits for the handler.
func TestWatcherSupersedesTheBatchBeingHandled(t *testing.T) {
	dir := t.TempDir()
	w, err := New([]Rule{{Service: "api", Action: Rebuild, Path: dir, Recursive: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Coalesce = 200 * time.Millisecond // each write one batch, on a busy machine too
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type handled struct {
		paths []string
		cause error
	}
	batches := make(chan handled, 10)
	started := make(chan struct{}, 10)
	drop := make(chan bool, 10)
	ran := make(chan error, 1)
	go func() {
		ran <- w.Run(ctx, func(batch context.Context, paths []string) bool {
			started <- struct{}{}
			dropped := <-drop
			if dropped {
				// The handler waits for the newer change before it gives up.
				<-batch.Done()
			}
			batches <- handled{paths, context.Cause(batch)}
			return dropped
		})
	}()
	a, b, c := filepath.Join(dir, "a.go"), filepath.Join(dir, "b.go"), filepath.Join(dir, "c.go")
	write := func(p string) {
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(ch chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("no batch within 5s")
		}
	}
	recv := func() handled {
		t.Helper()
		select {
		case h := <-batches:
			return h
		case <-time.After(5 * time.Second):
			t.Fatal("no batch handled within 5s")
			return handled{}
		}
	}

	// a is being handled when b changes: a's batch is superseded, and,
	// dropped, comes again with b.
	write(a)
	wait(started)
	drop <- true
	write(b)
	if h := recv(); !slices.Equal(h.paths, []string{a}) || !errors.Is(h.cause, ErrSuperseded) {
		t.Fatalf("first batch %v ended with %v, want [a] superseded", h.paths, h.cause)
	}
	// The batch after a superseded one runs to its end whatever comes in;
	// what does makes the next batch.
	wait(started)
	write(c)
	time.Sleep(300 * time.Millisecond) // the change to c is read while [a b] is handled
	drop <- false
	if h := recv(); !slices.Equal(h.paths, []string{a, b}) || h.cause != nil {
		t.Fatalf("after a dropped batch: %v (ended with %v), want [a b] not superseded", h.paths, h.cause)
	}
	wait(started)
	drop <- false
	if h := recv(); !slices.Equal(h.paths, []string{c}) || h.cause != nil {
		t.Fatalf("after it: %v (ended with %v), want [c]", h.paths, h.cause)
	}

	// Finished, a superseded batch does not come again.
	write(c)
	wait(started)
	write(a)
	time.Sleep(300 * time.Millisecond) // the change to a is read while c is handled
	drop <- false
	if h := recv(); !slices.Equal(h.paths, []string{c}) || !errors.Is(h.cause, ErrSuperseded) {
		t.Fatalf("batch %v ended with %v, want [c] superseded", h.paths, h.cause)
	}
	wait(started)
	drop <- false
	if h := recv(); !slices.Equal(h.paths, []string{a}) {
		t.Fatalf("after a finished batch: %v, want [a] alone", h.paths)
	}

	// Stopped while a batch is handled: Run returns once the handler has.
	write(b)
	wait(started)
	cancel()
	select {
	case <-ran:
		t.Fatal("Run returned while its handler was still running")
	case <-time.After(50 * time.Millisecond):
	}
	drop <- false
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its handler did")
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
