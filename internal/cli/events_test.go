package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/store"
)

func TestReadEvents(t *testing.T) {
	cases := []struct {
		name    string
		stream  string
		want    []int64
		wantErr string
	}{
		{"Empty", "", nil, io.ErrUnexpectedEOF.Error()},
		{"PreambleOnly", "retry: 2000\n: stream of ladder events\n\n", nil, io.ErrUnexpectedEOF.Error()},
		{"Events", "retry: 2000\n\nid: 7\ndata: {\"id\":7,\"kind\":\"deploy.started\"}\n\n: heartbeat\n\nid: 9\ndata:{\"id\":9}\n\n", []int64{7, 9}, io.ErrUnexpectedEOF.Error()},
		{"UnfinishedEventIsDropped", "id: 7\ndata: {\"id\":7}\n\nid: 8\ndata: {\"id\":8}\n", []int64{7}, io.ErrUnexpectedEOF.Error()},
		{"Malformed", "data: {\"id\":\n\n", nil, "an event of the stream"},
		{"NoDataNoEvent", "event: x\nid: 3\n\n", nil, io.ErrUnexpectedEOF.Error()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []int64
			err := readEvents(strings.NewReader(tc.stream), func(e store.Event) { got = append(got, e.ID) })
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("events %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("events %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestReadEventsBoundsALine(t *testing.T) {
	long := "data: " + strings.Repeat("x", maxEventLine+1) + "\n\n"
	err := readEvents(strings.NewReader(long), func(store.Event) { t.Error("an event from an over-long line") })
	if err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want the scanner's too-long error", err)
	}
}

// readPages follows a server's pages up to the limit asked, from the
// newest, placing older pages after (newest first) or before (oldest
// first) what it has.
func TestReadPages(t *testing.T) {
	// A server of IDs 1..1200, pages of at most n ending before `before`.
	fetch := func(asc bool, calls *int) func(int, int64) ([]int64, int64, error) {
		return func(n int, before int64) ([]int64, int64, error) {
			*calls++
			if before == 0 {
				before = 1201
			}
			var page []int64
			for id := before - 1; id >= 1 && len(page) < n; id-- {
				page = append(page, id)
			}
			var next int64
			if len(page) == n && page[len(page)-1] > 1 {
				next = page[len(page)-1]
			}
			if asc {
				slices.Reverse(page)
			}
			return page, next, nil
		}
	}
	cases := []struct {
		name        string
		limit       int
		before      int64
		asc         bool
		first, last int64
		n, calls    int
	}{
		{"AllNewestFirst", 0, 0, false, 1200, 1, 1200, 3},
		{"AllOldestFirst", 0, 0, true, 1, 1200, 1200, 3},
		{"LimitOnePage", 10, 0, false, 1200, 1191, 10, 1},
		{"LimitAcrossPages", 600, 0, true, 601, 1200, 600, 2},
		{"Before", 3, 100, false, 99, 97, 3, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			got, err := readPages(tc.limit, tc.before, tc.asc, fetch(tc.asc, &calls))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.n || got[0] != tc.first || got[len(got)-1] != tc.last || calls != tc.calls {
				t.Errorf("%d items %d..%d in %d calls, want %d items %d..%d in %d", len(got), got[0], got[len(got)-1], calls, tc.n, tc.first, tc.last, tc.calls)
			}
			if !slices.IsSortedFunc(got, func(a, b int64) int {
				if tc.asc {
					return int(a - b)
				}
				return int(b - a)
			}) {
				t.Errorf("not in order: %v...", got[:min(5, len(got))])
			}
		})
	}
}

// A follow through a server streams from where its page ended, also when
// the page is empty: an event recorded between the page and the stream's
// connection is printed, not skipped.
func TestRemoteFollowStartsWhereThePageEnded(t *testing.T) {
	for _, tc := range []struct {
		name      string
		page      string
		args      []string
		wantAfter string
	}{
		{"EmptyPage", `{"events": []}`, nil, "0"},
		{"PageOfEvents", `{"events": [{"id": 7, "environment": "dev", "kind": "deploy.started"}]}`, nil, "7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/v1/envs/dev/events":
					fmt.Fprintf(w, `{"result": %s}`, tc.page)
				case "/v1/envs/dev/events/stream":
					if !r.URL.Query().Has("after") {
						after <- "(none)"
					} else {
						after <- r.URL.Query().Get("after")
					}
					w.Header().Set("Content-Type", "text/event-stream")
					fmt.Fprint(w, "id: 50\ndata: {\"id\": 50, \"environment\": \"dev\", \"kind\": \"deploy.succeeded\"}\n\n")
					w.(http.Flusher).Flush()
					<-r.Context().Done()
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			t.Setenv(EnvServer, srv.URL)
			t.Setenv(auth.EnvToken, "ldr_test")
			var out syncBuffer
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			cmd := New(IO{In: strings.NewReader(""), Out: &out, Err: io.Discard})
			cmd.SetArgs(append([]string{"events", "dev", "-f", "-o", "json"}, tc.args...))
			done := make(chan error, 1)
			go func() { done <- cmd.ExecuteContext(ctx) }()
			select {
			case got := <-after:
				if got != tc.wantAfter {
					t.Errorf("the stream was asked for events after %s, want after %s", got, tc.wantAfter)
				}
			case err := <-done:
				t.Fatalf("events -f ended before it followed: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("events -f never opened the stream")
			}
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(out.String(), `"id":50`) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(out.String(), `"id":50`) {
				t.Errorf("the streamed event was not printed: %q", out.String())
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("events -f after its context ended: %v", err)
			}
		})
	}
}
