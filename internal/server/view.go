package server

import (
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/signal"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// The view types hold display-ready strings so the templates stay free of
// logic: every decision about what a number or a state looks like is made
// here, in Go, where it is tested.

// pageData is what every page template renders.
type pageData struct {
	Page        string // "dashboard", "events" or "ladder": which nav entry is current
	Title       string
	Stack       string
	Environment string
	Target      string
	Project     string
	Agent       *agentView
	Sites       []siteView
	Events      []eventView
	// EventsFilter describes the events page's filter, if any.
	EventsFilter string
	// Err is shown as a banner: the page still renders what it can.
	Err     string
	Updated timeView
	// HasLadder: the source serves the ladder view, so the nav links it.
	HasLadder bool
	// Interactive pages hold forms: no meta refresh for browsers without
	// script, which would wipe what the user is typing.
	Interactive bool
	// Ladder and Flash (an action's outcome) are the ladder page's.
	Ladder *ladderView
	Flash  *flashView
	// User is who the dashboard session acts as; empty when none.
	User string
}

type agentView struct {
	PID     int
	URL     string
	Started timeView
}

// timeView is one instant in the forms the page uses.
type timeView struct {
	Zero  bool
	ISO   string // datetime attribute
	Clock string // what is shown: time of day, with the date if not today
	Full  string // title attribute
	Ago   string // "5m ago"
}

// snapView is a snapshot ID as shown: short, with the full ID kept for the
// title and data-snapshot attributes.
type snapView struct {
	Full  string
	Short string
}

type siteView struct {
	Name     string
	Snap     snapView
	Release  *releaseView
	Services []serviceView
	// Drift lists what the site runs differently from its release, one
	// line per difference (secrets already redacted by package drift).
	Drift []driftLine
}

type driftLine struct {
	Service, Instance, Kind, Text string
}

type releaseView struct {
	ID     int64
	Snap   snapView
	Phase  string
	Class  string // ok, bad, warn, busy
	Reason string
	When   timeView
	// Other is set when the release is of another snapshot than the one
	// the site runs (a failed or ongoing release), so the page says which.
	Other bool
}

type serviceView struct {
	Name string
	Snap snapView
	// Drift: the service runs another snapshot than its site, as during a
	// rollout or after one failed half-way.
	Drift         bool
	Digest        string
	DigestShort   string
	Health        string
	HealthClass   string
	Running       int
	Total         int
	Restarts      int
	InstanceTitle string
	Endpoints     []endpointView
	Telemetry     bool
	Rate          string
	Errors        string
	ErrorClass    string
	P95           string
	RateSpark     template.HTML
	ErrorSpark    template.HTML
	P95Spark      template.HTML
}

type endpointView struct {
	URL   string
	Label string
}

type eventView struct {
	ID    int64
	When  timeView
	Kind  string
	Class string
	// Env and Where (env/site) say which rung it happened on: every rung
	// shares the store, and its deploys look alike from rung to rung.
	Env     string
	Where   string
	Site    string
	Service string
	Message string
	Snap    snapView
}

// Sparkline size in CSS pixels: small enough to sit under a number in a
// table row, with room at its right for the scale.
const (
	sparkWidth  = 120
	sparkHeight = 24
	// dashboardEvents is how many events the dashboard lists; /events has more.
	dashboardEvents = 30
)

func (s *server) timeOf(t time.Time) timeView {
	if t.IsZero() {
		return timeView{Zero: true}
	}
	lt := t.In(s.loc)
	now := s.now().In(s.loc)
	clock := lt.Format("15:04:05")
	if y, m, d := lt.Date(); y != now.Year() || m != now.Month() || d != now.Day() {
		clock = lt.Format("Jan 2 15:04")
	}
	return timeView{
		ISO:   t.UTC().Format(time.RFC3339),
		Clock: clock,
		Full:  lt.Format("2006-01-02 15:04:05 MST"),
		Ago:   ago(now.Sub(t)),
	}
}

// ago renders a duration coarsely, as people say it.
func ago(d time.Duration) string {
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
	}
}

func snapOf(id string) snapView { return snapView{Full: id, Short: snapshot.Short(id)} }

// statusPage fills the header fields of a page from st.
func (s *server) statusPage(page string, st *api.Status) pageData {
	p := pageData{Page: page, Title: "ladder", Updated: s.timeOf(s.now()), HasLadder: s.ladder() != nil}
	if st == nil {
		return p
	}
	p.Stack, p.Environment, p.Target, p.Project = st.Stack, st.Environment, st.Target, st.Project
	p.Title = strings.TrimSpace(st.Stack + " · " + st.Environment + " — ladder")
	if st.Agent.PID != 0 || st.Agent.URL != "" {
		p.Agent = &agentView{PID: st.Agent.PID, URL: st.Agent.URL, Started: s.timeOf(st.Agent.Started)}
	}
	return p
}

// dashboardPage builds the dashboard from a status document.
func (s *server) dashboardPage(st *api.Status) pageData {
	p := s.statusPage("dashboard", st)
	if st == nil {
		return p
	}
	for _, site := range st.Sites {
		p.Sites = append(p.Sites, s.siteOf(site))
	}
	events := st.Events
	if len(events) > dashboardEvents {
		events = events[len(events)-dashboardEvents:]
	}
	p.Events = s.eventsNewestFirst(events)
	return p
}

func (s *server) siteOf(site api.SiteStatus) siteView {
	v := siteView{Name: site.Site, Snap: snapOf(site.Snapshot)}
	if rep := site.Drift; rep != nil {
		for _, sd := range rep.Services {
			for _, it := range sd.Items {
				text := string(it.Kind)
				if it.Field != "" {
					text += " " + it.Field
				}
				if it.Want != "" || it.Have != "" {
					text += ": want " + it.Want + ", have " + it.Have
				}
				v.Drift = append(v.Drift, driftLine{Service: sd.Service, Instance: it.Instance, Kind: string(it.Kind), Text: text})
			}
		}
	}
	if r := site.Release; r != nil {
		v.Release = &releaseView{
			ID:     r.ID,
			Snap:   snapOf(r.Snapshot),
			Phase:  string(r.Phase),
			Class:  phaseClass(r.Phase),
			Reason: r.Reason,
			When:   s.timeOf(cmpTime(r.Finished, r.Started)),
			Other:  r.Snapshot != site.Snapshot,
		}
	}
	for _, svc := range site.Services {
		v.Services = append(v.Services, serviceOf(svc, site.Snapshot))
	}
	return v
}

func serviceOf(svc api.ServiceStatus, siteSnap string) serviceView {
	v := serviceView{
		Name:        svc.Name,
		Snap:        snapOf(svc.Snapshot),
		Drift:       siteSnap != "" && svc.Snapshot != "" && svc.Snapshot != siteSnap,
		Digest:      svc.Digest,
		DigestShort: snapshot.Short(svc.Digest),
		Health:      svc.Health,
		HealthClass: healthClass(svc.Health),
		Total:       len(svc.Instances),
	}
	if v.Health == "" {
		v.Health = "unknown"
	}
	var states []string
	for _, in := range svc.Instances {
		if in.State == plan.StateRunning || in.State == plan.StateStarting {
			v.Running++
		}
		v.Restarts += in.Restarts
		states = append(states, fmt.Sprintf("%s: %s", in.Slot, in.State))
	}
	v.InstanceTitle = fmt.Sprintf("%d running of %d", v.Running, v.Total)
	if len(states) > 0 {
		v.InstanceTitle += " (" + strings.Join(states, ", ") + ")"
	}
	for _, e := range svc.Endpoints {
		label := e
		if _, rest, ok := strings.Cut(e, "://"); ok {
			label = rest
		}
		v.Endpoints = append(v.Endpoints, endpointView{URL: e, Label: strings.TrimSuffix(label, "/")})
	}
	if t := svc.Telemetry; t != nil {
		v.Telemetry = true
		v.Rate = fmtRate(t.RequestRate)
		v.Errors = fmtPercent(t.ErrorRate)
		v.ErrorClass = errorClass(t.ErrorRate)
		v.P95 = fmtMillis(t.P95)
	}
	if n := len(svc.History); n > 0 {
		rate, errs, p95 := make([]float64, n), make([]float64, n), make([]float64, n)
		for i, h := range svc.History {
			rate[i], errs[i], p95[i] = h.RequestRate, h.ErrorRate*100, h.P95*1000
		}
		spark := func(values []float64, what string, label func(float64) string) template.HTML {
			return signal.Sparkline(values, signal.SparkOptions{Width: sparkWidth, Height: sparkHeight,
				Title: svc.Name + " " + what + ", last " + samples(n), Label: label, FromZero: true})
		}
		v.RateSpark = spark(rate, "request rate (req/s)", fmtRate)
		v.ErrorSpark = spark(errs, "error rate (%)", scalePercent)
		v.P95Spark = spark(p95, "p95 latency (ms)", scaleMillis)
	}
	return v
}

func samples(n int) string {
	if n == 1 {
		return "sample"
	}
	return fmt.Sprintf("%d samples", n)
}

// where names an event's place as env/site, or what of it is known.
func where(env, site string) string {
	switch {
	case env == "":
		return site
	case site == "":
		return env
	}
	return env + "/" + site
}

func (s *server) eventsNewestFirst(events []store.Event) []eventView {
	out := make([]eventView, 0, len(events))
	for _, e := range slices.Backward(events) {
		out = append(out, eventView{
			ID:      e.ID,
			When:    s.timeOf(e.Time),
			Kind:    string(e.Kind),
			Class:   kindClass(e.Kind),
			Env:     e.Env,
			Where:   where(e.Env, e.Site),
			Site:    e.Site,
			Service: e.Service,
			Message: e.Message,
			Snap:    snapOf(e.Snapshot),
		})
	}
	return out
}

func cmpTime(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	return a
}
