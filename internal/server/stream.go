package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// streamBatch bounds how many events one poll reads, so a client that
// asked to replay a long history gets it in steady chunks.
const streamBatch = 500

// EventLister is what an event stream reads: the store, or the part of it
// that holds events.
type EventLister interface {
	ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error)
}

// StreamOptions pace an event stream.
type StreamOptions struct {
	// Poll is how often the store is read for new events (default 250ms).
	Poll time.Duration
	// Heartbeat is how often an idle stream sends a comment (default 15s).
	Heartbeat time.Duration
	Log       *slog.Logger
}

// handleEventStream serves the agent's event stream (StreamEvents).
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
	if err := StreamEvents(w, r, s.st, f, StreamOptions{Poll: s.pollEvery, Heartbeat: s.heartbeatEvery, Log: s.log}); err != nil {
		s.fail(w, r, err)
	}
}

// StreamEvents sends the events f selects as Server-Sent Events while they
// are appended, until the client goes away. It polls the store rather than
// subscribing to the agent because events are also written by other
// ladder processes sharing the database (a CLI build, a deploy from
// another terminal), and the store's monotonic IDs make polling with
// AfterID lossless. An agent's dashboard serves it for its environment,
// the engine's API for every environment it owns.
//
// The stream starts after the event named by the Last-Event-ID header (an
// EventSource reconnecting) or the after parameter; without either it
// starts at the newest event, so only events appended from now on are sent.
//
// It returns an error only when nothing was sent: a malformed
// Last-Event-ID (IsBadInput) or the store's failure to find the newest
// event; the caller answers it.
func StreamEvents(w http.ResponseWriter, r *http.Request, st EventLister, f store.EventFilter, o StreamOptions) error {
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ctx := r.Context()
	cursor, explicit := f.AfterID, r.URL.Query().Has("after")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n < 0 {
			return badInput("", "Last-Event-ID must be an event ID, not %q", id)
		}
		cursor, explicit = n, true
	}
	if !explicit {
		var err error
		if cursor, err = NewestEvent(ctx, st, f); err != nil {
			return err
		}
	}

	rc := http.NewResponseController(w)
	// A stream outlives any write timeout the http.Server sets for
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
		return nil
	}

	poll := time.NewTicker(o.Poll)
	defer poll.Stop()
	heartbeat := time.NewTicker(o.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-heartbeat.C:
			// Comments keep idle connections from being closed by proxies
			// and let the server notice a client that went away.
			fmt.Fprint(w, ": heartbeat\n\n")
			if rc.Flush() != nil {
				return nil
			}
		case <-poll.C:
			next, err := sendEvents(w, r, st, o.Log, f, cursor)
			if err != nil {
				return nil
			}
			if next != cursor {
				cursor = next
				if rc.Flush() != nil {
					return nil
				}
			}
		}
	}
}

// sendEvents writes the events after cursor and returns the new cursor. A
// store error is logged and retried on the next tick: the stream should
// survive a busy database. Only a failed write (client gone) is returned.
func sendEvents(w http.ResponseWriter, r *http.Request, st EventLister, log *slog.Logger, f store.EventFilter, cursor int64) (int64, error) {
	events, err := EventsAfter(r.Context(), st, f, cursor)
	if err != nil {
		if r.Context().Err() == nil {
			log.Warn("event stream: list events", "err", err)
		}
		return cursor, nil
	}
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			log.Warn("event stream: encode event", "id", e.ID, "err", err)
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

// NewestEvent is the ID of the newest event f selects, 0 when there is
// none: where a stream of what happens from now on starts.
func NewestEvent(ctx context.Context, st EventLister, f store.EventFilter) (int64, error) {
	f.AfterID, f.BeforeID, f.Limit = 0, 0, 1
	last, err := st.ListEvents(ctx, f)
	if err != nil || len(last) == 0 {
		return 0, err
	}
	return last[len(last)-1].ID, nil
}

// EventsAfter reads the next events f selects after cursor, oldest first,
// at most streamBatch of them: one step of a stream that polls the store.
func EventsAfter(ctx context.Context, st EventLister, f store.EventFilter, cursor int64) ([]store.Event, error) {
	f.AfterID, f.BeforeID, f.Limit = cursor, 0, streamBatch
	if cursor == 0 {
		// AfterID 0 means "newest Limit" to the store, not "from the
		// start"; read everything instead so none is skipped.
		f.Limit = 0
	}
	return st.ListEvents(ctx, f)
}
