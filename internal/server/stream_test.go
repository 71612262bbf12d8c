package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// sseClient reads a stream line by line on a goroutine so tests can wait
// with a timeout.
type sseClient struct {
	lines  chan string
	cancel context.CancelFunc
}

func openStream(t *testing.T, url string, headers ...string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("GET %s = %d %s", url, res.StatusCode, res.Header.Get("Content-Type"))
	}
	c := &sseClient{lines: make(chan string, 100), cancel: cancel}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(cancel)
	return c
}

// next returns the next event's ID line and decoded data, skipping
// comments and blank lines.
func (c *sseClient) next(t *testing.T) (string, store.Event) {
	t.Helper()
	var id string
	deadline := time.After(5 * time.Second)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatal("stream ended")
			}
			switch {
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				var e store.Event
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e); err != nil {
					t.Fatalf("data line %q: %v", line, err)
				}
				return id, e
			}
		case <-deadline:
			t.Fatal("no event within 5s")
		}
	}
}

// waitFor waits for a line equal to want.
func (c *sseClient) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("stream ended before %q", want)
			}
			if line == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q within 5s", want)
		}
	}
}

func TestEventStream(t *testing.T) {
	st := openStore(t)
	old := appendEvent(t, st, store.Event{Kind: store.EventDeployStarted, Env: "dev", Snapshot: snapA, Message: "old"})
	srv := httptest.NewServer(newTestServer(nil, st).handler())
	defer srv.Close() // hangs if a handler ignores its client leaving

	live := openStream(t, srv.URL+"/api/v1/events/stream")
	workers := openStream(t, srv.URL+"/api/v1/events/stream?service=worker")
	replay := openStream(t, srv.URL+"/api/v1/events/stream?after=0")
	resumed := openStream(t, srv.URL+"/api/v1/events/stream", "Last-Event-ID", "1")

	// Both streams are connected (their first comment arrived) before the
	// new events exist, so "new" is well defined.
	live.waitFor(t, ": stream of ladder events")
	workers.waitFor(t, ": stream of ladder events")
	e2 := appendEvent(t, st, store.Event{Kind: store.EventDeploySucceeded, Env: "dev", Snapshot: snapA, Message: "new"})
	e3 := appendEvent(t, st, store.Event{Kind: store.EventRestarted, Env: "dev", Snapshot: snapB, Service: "worker", Message: "<b>restart</b>\nline two"})

	for _, want := range []store.Event{e2, e3} {
		id, got := live.next(t)
		if id != strconv.FormatInt(want.ID, 10) || got.ID != want.ID || got.Message != want.Message || got.Snapshot != want.Snapshot {
			t.Errorf("live stream: id %s %+v, want %+v", id, got, want)
		}
	}
	if _, got := workers.next(t); got.ID != e3.ID {
		t.Errorf("filtered stream got event %d, want %d", got.ID, e3.ID)
	}
	for _, want := range []int64{old.ID, e2.ID, e3.ID} {
		if _, got := replay.next(t); got.ID != want {
			t.Errorf("replay got %d, want %d", got.ID, want)
		}
	}
	if _, got := resumed.next(t); got.ID != e2.ID {
		t.Errorf("Last-Event-ID 1 resumed at %d, want %d", got.ID, e2.ID)
	}
	// Idle streams carry heartbeats.
	live.waitFor(t, ": heartbeat")

	// A client going away ends its handler (srv.Close above would hang).
	live.cancel()
	workers.cancel()
	replay.cancel()
	resumed.cancel()
}

func TestEventStreamBadInput(t *testing.T) {
	h := newTestServer(nil, openStore(t)).handler()
	wantError(t, do(h, "GET", "/api/v1/events/stream?after=-4", ""), 400, "after")
	wantError(t, do(h, "GET", "/api/v1/events/stream", "", "Last-Event-ID", "x"), 400, "Last-Event-ID")
	wantError(t, do(newTestServer(nil, nil).handler(), "GET", "/api/v1/events/stream", ""), 503, "no store")
}
