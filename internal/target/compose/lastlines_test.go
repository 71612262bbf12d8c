package compose

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// logsEngine fakes the engine's log reads: each call answers the next
// reply (empty output, an error or lines), the last one from then on.
type logsEngine struct {
	Engine  // only ContainerLogs is used
	mu      sync.Mutex
	calls   int
	replies []logsReply
}

type logsReply struct {
	out string
	err error
}

func (e *logsEngine) ContainerLogs(context.Context, string, container.LogsOptions) (io.ReadCloser, error) {
	e.mu.Lock()
	r := e.replies[min(e.calls, len(e.replies)-1)]
	e.calls++
	e.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	var b bytes.Buffer
	if r.out != "" {
		_, _ = stdcopy.NewStdWriter(&b, stdcopy.Stdout).Write([]byte(r.out))
	}
	return io.NopCloser(&b), nil
}

// The engine shows a crashed container's output only a moment after its
// exit is visible, or a read of it fails on a busy machine: the crash
// report still carries the last lines.
func TestLastLinesWaitsForOutput(t *testing.T) {
	for name, first := range map[string]logsReply{
		"not copied yet": {},
		"read timed out": {err: context.DeadlineExceeded},
	} {
		t.Run(name, func(t *testing.T) {
			eng := &logsEngine{replies: []logsReply{first, first, {out: "crashing at start\n"}}}
			tgt := New(Options{Engine: eng, Stack: "s"})
			got := tgt.lastLines(context.Background(), "c1", 40)
			if len(got) != 1 || got[0] != "crashing at start" {
				t.Fatalf("last lines = %q after %d reads, want the crash's line", got, eng.calls)
			}
		})
	}
	t.Run("silent container", func(t *testing.T) {
		eng := &logsEngine{replies: []logsReply{{}}}
		if got := New(Options{Engine: eng, Stack: "s"}).lastLines(context.Background(), "c1", 40); got != nil || eng.calls < 2 {
			t.Fatalf("last lines = %q after %d reads, want none after asking again", got, eng.calls)
		}
	})
	t.Run("removed container", func(t *testing.T) {
		eng := &logsEngine{replies: []logsReply{{err: fmt.Errorf("no such container: c1: %w", errNotFound)}}}
		if got := New(Options{Engine: eng, Stack: "s"}).lastLines(context.Background(), "c1", 40); got != nil || eng.calls != 1 {
			t.Fatalf("last lines = %q after %d reads, want one read of a removed container", got, eng.calls)
		}
	})
}
