package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// streamBatch bounds how many events one poll reads, so a client that
// asked to replay a long history gets it in steady chunks.
const streamBatch = 500

// handleEventStream sends events as Server-Sent Events while they are
// appended. It polls the store rather than subscribing to the agent because
// events are also written by other ladder processes sharing the database
// (a CLI build, a deploy from another terminal), and the store's
// monotonic IDs make polling with AfterID lossless.
//
// The stream starts after the event named by the Last-Event-ID header (an
// EventSource reconnecting) or the after parameter; without either it
// starts at the newest event, so only events appended from now on are sent.
func (s *server) handleEventStream(w http.ResponseWriter, r *http.Request) {
	if s.st == nil {
		s.fail(w, r, errNoStore)
		return
	}
	f, err := s.eventFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	cursor, explicit := f.AfterID, r.URL.Query().Has("after")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n < 0 {
			s.fail(w, r, badInput("", "Last-Event-ID must be an event ID, not %q", id))
			return
		}
		cursor, explicit = n, true
	}
	if !explicit {
		latest := f
		latest.AfterID, latest.Limit = 0, 1
		last, err := s.st.ListEvents(ctx, latest)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if len(last) > 0 {
			cursor = last[len(last)-1].ID
		}
	}

	rc := http.NewResponseController(w)
	// A stream outlives any write timeout the agent's http.Server sets for
	// ordinary requests; servers without deadlines report an error we ignore.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // keep reverse proxies from buffering
	w.WriteHeader(http.StatusOK)
	// retry tells EventSource how soon to reconnect; the comment gets the
	// headers to the client at once.
	fmt.Fprint(w, "retry: 2000\n: stream of ladder events\n\n")
	if rc.Flush() != nil {
		return
	}

	poll := time.NewTicker(s.pollEvery)
	defer poll.Stop()
	heartbeat := time.NewTicker(s.heartbeatEvery)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			// Comments keep idle connections from being closed by proxies
			// and let the server notice a client that went away.
			fmt.Fprint(w, ": heartbeat\n\n")
			if rc.Flush() != nil {
				return
			}
		case <-poll.C:
			next, err := s.sendEvents(w, r, f, cursor)
			if err != nil {
				return
			}
			if next != cursor {
				cursor = next
				if rc.Flush() != nil {
					return
				}
			}
		}
	}
}

// sendEvents writes the events after cursor and returns the new cursor. A
// store error is logged and retried on the next tick: the stream should
// survive a busy database. Only a failed write (client gone) is returned.
func (s *server) sendEvents(w http.ResponseWriter, r *http.Request, f store.EventFilter, cursor int64) (int64, error) {
	f.AfterID, f.Limit = cursor, streamBatch
	if cursor == 0 {
		// AfterID 0 means "newest Limit" to the store, not "from the
		// start"; read everything instead so none is skipped.
		f.Limit = 0
	}
	events, err := s.st.ListEvents(r.Context(), f)
	if err != nil {
		if r.Context().Err() == nil {
			s.log.Warn("event stream: list events", "err", err)
		}
		return cursor, nil
	}
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			s.log.Warn("event stream: encode event", "id", e.ID, "err", err)
			cursor = e.ID
			continue
		}
		// No "event:" field: every event arrives as a plain message, so an
		// EventSource's onmessage sees them all (the kind is in the data).
		// JSON never contains a raw newline, so one data line suffices.
		if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", e.ID, b); err != nil {
			return cursor, err
		}
		cursor = e.ID
	}
	return cursor, nil
}
