package compose

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/ladderhq/ladder/internal/render"
)

// streamEngine fakes the engine's event stream: each call to Events
// plays the next script, then breaks the stream as a restarting engine
// does.
type streamEngine struct {
	Engine // only Events is used
	mu     sync.Mutex
	calls  int
	script [][]events.Message
}

func (e *streamEngine) Events(ctx context.Context, _ events.ListOptions) (<-chan events.Message, <-chan error) {
	e.mu.Lock()
	n := e.calls
	e.calls++
	e.mu.Unlock()
	msgs := make(chan events.Message)
	errs := make(chan error, 1)
	go func() {
		if n < len(e.script) {
			for _, m := range e.script[n] {
				select {
				case msgs <- m:
				case <-ctx.Done():
					return
				}
			}
			errs <- errors.New("unexpected EOF: the engine went away")
			return
		}
		<-ctx.Done() // a quiet, healthy stream
	}()
	return msgs, errs
}

func TestWatchReconnectsAfterTheEngineRestarts(t *testing.T) {
	msg := func(name, action string) events.Message {
		return events.Message{Action: events.Action(action), Actor: events.Actor{Attributes: map[string]string{"name": name}}}
	}
	eng := &streamEngine{script: [][]events.Message{
		{msg("web-1", "die")},
		{msg("web-1", "start")},
	}}
	tgt := New(Options{Engine: eng, Stack: "s"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		mu   sync.Mutex
		seen []string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tgt.Watch(ctx, render.SiteRef{Env: "local", Site: "default"}, func(what string) {
			mu.Lock()
			seen = append(seen, what)
			n := len(seen)
			mu.Unlock()
			if n == 4 {
				cancel()
			}
		})
	}()
	<-done
	want := []string{"web-1 die", "reconnected to the engine", "web-1 start", "reconnected to the engine"}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(want) {
		t.Fatalf("changes seen %q, want %q", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("changes seen %q, want %q", seen, want)
		}
	}
	if eng.calls < 3 {
		t.Errorf("the stream was opened %d times, want a reconnection after each break", eng.calls)
	}
}
