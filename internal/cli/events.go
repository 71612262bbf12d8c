package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/engine"
	"github.com/ladderhq/ladder/internal/server"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// eventsQ is what `ladder events` asks for.
type eventsQ struct {
	Env, Site, Service string
	Kind               string
	Limit              int
	Before             int64
	Follow             bool
}

func (q eventsQ) filter() store.EventFilter {
	return store.EventFilter{Env: q.Env, Site: q.Site, Service: q.Service, Kind: store.EventKind(q.Kind), Limit: q.Limit, BeforeID: q.Before}
}

func newEventsCmd(a *app) *cobra.Command {
	var q eventsQ
	cmd := &cobra.Command{
		Use:   "events [ENV]",
		Short: "What happened, each event tied to its snapshot: builds, deploys, health, drift",
		Long: `events lists what happened on the ladder, oldest first: builds and
snapshots, deploys and their outcome, health changes, restarts, drift.
Every event names its environment, site and snapshot. --limit shows the
newest N; the first row's ID, given to --before, shows the page before it.
--follow keeps printing events as they happen, until Ctrl-C; with -o json
each is one JSON object per line.

Without ENV, the events of every environment. With LADDER_SERVER (and
LADDER_TOKEN), the ladder server answers, streaming with --follow (Server-
Sent Events, resumed where they stopped if the connection drops): name the
environment; a token with the viewer role there is enough.`,
		Example: `  ladder events dev
  ladder events prod --kind deploy.failed -n 20
  ladder events staging -f
  ladder events prod -f -o json | jq -r 'select(.kind == "health.changed") | .message'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) == 1 {
				q.Env = args[0]
			}
			if q.Limit < 0 || q.Before < 0 {
				return exitf(ExitConfig, "--limit and --before take numbers of 0 or more")
			}
			if q.Follow && q.Before > 0 {
				return exitf(ExitConfig, "--follow prints what happens from now on: it takes no --before")
			}
			if os.Getenv(EnvServer) != "" {
				return a.remoteEvents(ctx, q)
			}
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			if q.Env != "" {
				e, err := ws.environment(q.Env)
				if err != nil {
					return err
				}
				q.Env = e.Name
			}
			return a.localEvents(ctx, ws.store, q)
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Site, "site", "", "only this site")
	f.StringVar(&q.Service, "service", "", "only this service")
	f.StringVar(&q.Kind, "kind", "", "only this kind (deploy.started, deploy.succeeded, deploy.failed, health.changed, drift.detected, ...)")
	f.IntVarP(&q.Limit, "limit", "n", 50, "the newest N (0: all)")
	f.Int64Var(&q.Before, "before", 0, "only events older than this ID (the page before)")
	f.BoolVarP(&q.Follow, "follow", "f", false, "keep printing new events until Ctrl-C")
	return cmd
}

// queryOf is the query of the fields that are set.
func queryOf(fields map[string]string) url.Values {
	q := url.Values{}
	for k, v := range fields {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// eventsPage is a page of events, oldest first.
type eventsPage struct {
	Events []store.Event `json:"events"`
	// Older, when set, is the before of the page of older events.
	Older int64 `json:"older,omitempty"`
}

// eventsPageOf reads the page f asks for (f.Limit bounded by the caller).
func eventsPageOf(ctx context.Context, st server.EventLister, f store.EventFilter) (eventsPage, error) {
	events, err := st.ListEvents(ctx, f)
	if err != nil {
		return eventsPage{}, err
	}
	page := eventsPage{Events: events}
	if page.Events == nil {
		page.Events = []store.Event{}
	}
	if f.Limit > 0 && len(events) == f.Limit {
		page.Older = events[0].ID
	}
	return page, nil
}

// localEvents prints the events q selects from this machine's store and,
// following, polls it for new ones.
func (a *app) localEvents(ctx context.Context, st server.EventLister, q eventsQ) error {
	events, err := st.ListEvents(ctx, q.filter())
	if err != nil {
		return err
	}
	if !q.Follow {
		return a.printEvents(events)
	}
	ep := a.eventPrinter()
	cursor := int64(0)
	if len(events) > 0 {
		cursor = events[len(events)-1].ID
	} else if cursor, err = server.NewestEvent(ctx, st, q.filter()); err != nil {
		return err
	}
	for _, e := range events {
		ep(e)
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		more, err := server.EventsAfter(ctx, st, q.filter(), cursor)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, e := range more {
			ep(e)
			cursor = e.ID
		}
	}
}

// remoteEvents asks the ladder server for q's events, page by page, then
// follows its stream.
func (a *app) remoteEvents(ctx context.Context, q eventsQ) error {
	if q.Env == "" {
		return exitf(ExitConfig, "with %s, name the environment: ladder events ENV", EnvServer)
	}
	c, err := a.thinClient(ctx)
	if err != nil {
		return err
	}
	params := queryOf(map[string]string{"site": q.Site, "service": q.Service, "kind": q.Kind})
	base := "/v1/envs/" + url.PathEscape(q.Env) + "/events"
	events, err := readPages(q.Limit, q.Before, true, func(n int, before int64) ([]store.Event, int64, error) {
		p := url.Values{}
		for k, v := range params {
			p[k] = v
		}
		p.Set("limit", strconv.Itoa(n))
		p.Set("before", strconv.FormatInt(before, 10))
		var page eventsPage
		_, err := a.callRead(ctx, c, base+"?"+p.Encode(), &page)
		return page.Events, page.Older, err
	})
	if err != nil {
		return err
	}
	if !q.Follow {
		return a.printEvents(events)
	}
	ep := a.eventPrinter()
	// The stream starts where the page ended, never at whatever is newest
	// when it connects: an event recorded in between is printed too.
	var after int64
	for _, e := range events {
		ep(e)
		after = e.ID
	}
	params.Set("after", strconv.FormatInt(after, 10))
	return a.followStream(ctx, c, base+"/stream?"+params.Encode(), ep)
}

// followStream prints the events of an engine's stream until ctx ends.
// When the stream drops (the engine restarted, the network failed) it
// opens it again after the last event printed, so none is lost or
// printed twice.
func (a *app) followStream(ctx context.Context, c *engine.Client, path string, ep func(store.Event)) error {
	var last int64
	for attempt := 0; ; attempt++ {
		body, err := c.Stream(ctx, path, last)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var se *engine.StatusError
			if attempt == 0 || errors.As(err, &se) {
				return engineCallErr(err)
			}
		} else {
			attempt = 0
			err = readEvents(body, func(e store.Event) {
				ep(e)
				last = e.ID
			})
			body.Close()
			if ctx.Err() != nil {
				return nil
			}
		}
		fmt.Fprintf(a.Err, "the event stream dropped (%v); reconnecting\n", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

// maxEventLine bounds one line of an event stream.
const maxEventLine = 1 << 20

// readEvents reads Server-Sent Events (one JSON event per data line, as
// server.StreamEvents sends them) and hands each to fn until the stream
// ends; comments, retry and id lines carry nothing fn needs.
func readEvents(r io.Reader, fn func(store.Event)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventLine)
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data.Len() > 0 {
				var e store.Event
				if err := json.Unmarshal([]byte(data.String()), &e); err != nil {
					return fmt.Errorf("an event of the stream: %w", err)
				}
				fn(e)
				data.Reset()
			}
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

// printEvents prints a list of events as ladder events does.
func (a *app) printEvents(events []store.Event) error {
	if a.json() {
		if events == nil {
			events = []store.Event{}
		}
		return a.printJSON(events)
	}
	ep := a.eventPrinter()
	for _, e := range events {
		ep(e)
	}
	return nil
}

// eventPrinter prints one event a line: as JSON with -o json (JSON lines,
// for a stream), otherwise for people.
func (a *app) eventPrinter() func(store.Event) {
	if a.json() {
		enc := json.NewEncoder(a.Out)
		return func(e store.Event) { _ = enc.Encode(e) }
	}
	return func(e store.Event) {
		where := e.Env
		if e.Site != "" {
			where += "/" + e.Site
		}
		fmt.Fprintf(a.Out, "%-7d %s  %-16s %-18s %-12s %-12s %s\n", e.ID, e.Time.Local().Format("2006-01-02 15:04:05"),
			joinOr([]string{where}, "-"), e.Kind, joinOr([]string{e.Service}, "-"), joinOr([]string{snapshot.Short(e.Snapshot)}, "-"), e.Message)
	}
}

// eventRoutes serve the events of an environment to thin clients: a page
// (as ladder events lists them) and the stream (Server-Sent Events).
func (v *engineVerbs) eventRoutes(mux engine.Mux) {
	mux.HandleFunc("GET /v1/envs/{env}/events", func(w http.ResponseWriter, r *http.Request) {
		env := r.PathValue("env")
		f, err := eventQuery(r, env)
		if err != nil {
			writeVerbStatus(w, http.StatusBadRequest, err.Error())
			return
		}
		v.read(w, r, env, func(ctx context.Context, a *app, ws *workspace) (any, error) {
			if _, err := ws.environment(env); err != nil {
				return nil, err
			}
			return eventsPageOf(ctx, ws.store, f)
		})
	})
	mux.HandleFunc("GET /v1/envs/{env}/events/stream", func(w http.ResponseWriter, r *http.Request) {
		env := r.PathValue("env")
		f, err := eventQuery(r, env)
		if err != nil {
			writeVerbStatus(w, http.StatusBadRequest, err.Error())
			return
		}
		if !v.mayRead(w, r, env) {
			return
		}
		err = server.StreamEvents(w, r, v.ws.store, f, server.StreamOptions{Log: v.a.logger()})
		switch {
		case err == nil:
		case server.IsBadInput(err):
			writeVerbStatus(w, http.StatusBadRequest, err.Error())
		default:
			writeVerbStatus(w, http.StatusInternalServerError, err.Error())
		}
	})
}

// eventQuery reads the filters of the event routes: site, service, kind,
// and limit (bounded by maxPage), before and after IDs.
func eventQuery(r *http.Request, env string) (store.EventFilter, error) {
	q, err := pageQuery(r)
	if err != nil {
		return store.EventFilter{}, err
	}
	vals := r.URL.Query()
	f := store.EventFilter{Env: env, Site: vals.Get("site"), Service: vals.Get("service"), Kind: store.EventKind(vals.Get("kind")),
		Limit: q.Limit, BeforeID: q.Before}
	if s := vals.Get("after"); s != "" {
		if f.AfterID, err = strconv.ParseInt(s, 10, 64); err != nil || f.AfterID < 0 {
			return f, fmt.Errorf("after: want an ID, not %q", s)
		}
	}
	return f, nil
}
