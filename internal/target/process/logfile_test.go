package process

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

// Following a log goes on across rotations: the rest of the old file is
// read, then the new one, in order.
func TestFollowAcrossRotations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	l, err := openServiceLog(path, &render.LogLimits{MaxSize: 4 << 10, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- tailFile(ctx, path, target.LogOptions{Follow: true}, func(rec string) {
			mu.Lock()
			got = append(got, rec)
			mu.Unlock()
		})
	}()
	n := 0
	// caughtUp waits until the follower has every record written so far:
	// a follower two rotations behind would have lost a file, which is
	// the log's limit, not what this test is about.
	caughtUp := func() {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			have := len(got)
			mu.Unlock()
			if have >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the follower has %d of %d records after 20s", have, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for range 6 {
		var batch []string
		for range 30 { // about 2.4 KiB: a rotation every other batch
			batch = append(batch, fmt.Sprintf("line %04d %s", n, strings.Repeat("x", 40)))
			n++
		}
		l.write("2026-01-01T00:00:00Z", "1-abc", batch)
		caughtUp()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("followed %d records, want %d", len(got), n)
	}
	for i, rec := range got {
		if !strings.Contains(rec, fmt.Sprintf(" line %04d ", i)) {
			t.Fatalf("record %d is %q", i, rec)
		}
	}
	if _, err := os.Stat(rotatedPath(path, 2)); err == nil {
		t.Errorf("%s kept beyond max-file 2", rotatedPath(path, 2))
	}
}

// --tail N gives N records even when the service writes between finding
// where they start and reading them (here right after a rotation, when
// the last records are in the rotated file).
func TestTailIsTheLogAsItWasWhenItBegan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	l, err := openServiceLog(path, &render.LogLimits{MaxSize: 4 << 10, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	var batch []string
	for i := range 100 { // several rotations; the last leaves svc.log short
		batch = append(batch, fmt.Sprintf("line %04d %s", i, strings.Repeat("x", 40)))
	}
	l.write("2026-01-01T00:00:00Z", "1-abc", batch)
	defer func() { tailScanned = func() {} }()
	tailScanned = func() {
		l.write("2026-01-01T00:00:01Z", "1-abc", []string{"written meanwhile 1", "written meanwhile 2"})
	}
	var got []string
	if err := tailFile(context.Background(), path, target.LogOptions{Tail: 10}, func(rec string) { got = append(got, rec) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || !strings.Contains(got[0], " line 0090 ") || !strings.Contains(got[9], " line 0099 ") {
		t.Errorf("tail 10 gave %d records: %q", len(got), got)
	}
}
