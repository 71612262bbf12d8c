package server

import (
	"slices"
	"strings"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/store"
)

// The ladder page's view: api.Ladder turned into what the template shows,
// with every decision (which promotion to show, what can be promoted
// where, which class a state gets) made here.

type ladderView struct {
	Envs      []rungView
	Snapshots []snapSummaryView
	Generated timeView
}

// rungView is one environment, a column of the ladder.
type rungView struct {
	Step                int // 1 for the first rung
	Name, From, Target  string
	Protected, Template bool
	Gates               []string
	Running             bool
	AgentURL            string
	Sites               []rungSiteView
	// Promotion is the latest promotion to the rung while it is not
	// done (pending, blocked, promoting or failed), with its gates.
	Promotion *promotionView
	// Candidates are the snapshots the previous rung runs, which the
	// page offers to promote here.
	Candidates []candidateView
	// NeedsApproval: a gate counts approvals, so the page asks for them.
	NeedsApproval bool
	// Offer: the rung is promoted to (it has a previous rung and is no
	// template), so the page offers what the previous rung runs.
	Offer bool
	// CanRollback: an agent runs the rung and it has an earlier
	// known-good snapshot, KnownGood, that a rollback would return to.
	// Without one there is nothing to roll back to, and no button.
	CanRollback bool
	KnownGood   snapView
	History     []historyView
	// MultiSite: the history names each release's site.
	MultiSite bool
	// CSRF is the session's token the forms post back; empty when no one
	// is logged in, and then the page offers no action.
	CSRF string
}

type rungSiteView struct {
	Name        string
	Snap        snapView
	Health      string
	HealthClass string
	Release     *rungReleaseView
	// Telemetry is shown only where an agent runs and measures it.
	Telemetry  bool
	Rate       string
	Errors     string
	ErrorClass string
}

type rungReleaseView struct {
	ID        int64
	Snap      snapView
	Phase     string
	Class     string
	KnownGood bool
	Reason    string
	// Other: the release is of another snapshot than the one the site
	// runs (it failed, or is under way).
	Other bool
}

type promotionView struct {
	ID     int64
	Snap   snapView
	From   string
	Phase  string
	Class  string
	Reason string
	By     string
	When   timeView
	Gates  []gateView
}

type gateView struct {
	Name   string
	Passed bool
	Reason string
}

type candidateView struct {
	Snap snapView
	From string
	// Here: the snapshot already runs on every site of the rung.
	Here bool
}

type historyView struct {
	ID        int64
	Site      string
	Snap      snapView
	Phase     string
	Class     string
	KnownGood bool
	When      timeView
}

type snapSummaryView struct {
	Snap     snapView
	Created  timeView
	Revision string
	Services int
	Running  []whereView
}

// whereView is an env/site a snapshot runs on.
type whereView struct {
	Env, Label string
}

// historyLen is how many releases a rung lists.
const historyLen = 5

func (s *server) ladderView(l *api.Ladder) *ladderView {
	v := &ladderView{Generated: s.timeOf(l.Generated)}
	byName := map[string]*api.LadderEnv{}
	for i := range l.Environments {
		byName[l.Environments[i].Name] = &l.Environments[i]
	}
	for i, e := range l.Environments {
		v.Envs = append(v.Envs, s.rungOf(i+1, e, byName[e.From]))
	}
	for _, sn := range l.Snapshots {
		sv := snapSummaryView{Snap: snapOf(sn.ID), Created: s.timeOf(sn.Created), Revision: sn.Revision, Services: sn.Services}
		for _, where := range sn.Running {
			env, _, _ := strings.Cut(where, "/")
			sv.Running = append(sv.Running, whereView{Env: env, Label: where})
		}
		v.Snapshots = append(v.Snapshots, sv)
	}
	return v
}

func (s *server) rungOf(step int, e api.LadderEnv, from *api.LadderEnv) rungView {
	v := rungView{
		Step: step, Name: e.Name, From: e.From, Target: e.Target,
		Protected: e.Protected, Template: e.Template, Gates: e.Gates,
		Running: e.Running, AgentURL: e.AgentURL,
		Offer:       e.From != "" && !e.Template,
		CanRollback: e.Running && !e.Template && e.RollbackTo != "",
		KnownGood:   snapOf(e.RollbackTo),
		MultiSite:   len(e.Sites) > 1,
	}
	for _, g := range e.Gates {
		if strings.Contains(strings.ToLower(g), "approval") {
			v.NeedsApproval = true
		}
	}
	for _, site := range e.Sites {
		v.Sites = append(v.Sites, rungSiteOf(site, e.Running))
	}
	if len(e.Promotions) > 0 && e.Promotions[0].Phase != store.PromotionSucceeded {
		v.Promotion = s.promotionOf(e.Promotions[0])
	}
	// A template is instantiated, never promoted to.
	if from != nil && !e.Template {
		v.Candidates = candidates(e, *from)
	}
	for i, r := range e.History {
		if i < historyLen {
			v.History = append(v.History, historyView{
				ID: r.ID, Site: r.Site, Snap: snapOf(r.Snapshot),
				Phase: string(r.Phase), Class: phaseClass(r.Phase), KnownGood: r.KnownGood,
				When: s.timeOf(cmpTime(r.Finished, r.Started)),
			})
		}
	}
	return v
}

func rungSiteOf(site api.LadderSite, running bool) rungSiteView {
	v := rungSiteView{Name: site.Site, Snap: snapOf(site.Snapshot), Health: site.Health, HealthClass: siteHealthClass(site.Health)}
	if v.Health == "" {
		v.Health = "unknown"
	}
	if r := site.Release; r != nil {
		v.Release = &rungReleaseView{
			ID: r.ID, Snap: snapOf(r.Snapshot), Phase: string(r.Phase), Class: phaseClass(r.Phase),
			KnownGood: r.KnownGood, Reason: r.Reason, Other: r.Snapshot != site.Snapshot,
		}
	}
	if running {
		v.Telemetry = true
		v.Rate = fmtRate(site.RequestRate)
		v.Errors = fmtPercent(site.ErrorRate)
		v.ErrorClass = errorClass(site.ErrorRate)
	}
	return v
}

func (s *server) promotionOf(p api.PromotionView) *promotionView {
	v := &promotionView{
		ID: p.ID, Snap: snapOf(p.Snapshot), From: p.From, Phase: string(p.Phase), Class: promotionClass(p.Phase),
		Reason: p.Reason, By: p.By, When: s.timeOf(cmpTime(p.Updated, p.Created)),
	}
	for _, g := range p.Gates {
		v.Gates = append(v.Gates, gateView{Name: g.Gate, Passed: g.Passed, Reason: g.Reason})
	}
	return v
}

// candidates are the distinct snapshots the previous rung's sites run,
// in site order: usually one, more while that rung is mid-rollout.
func candidates(e, from api.LadderEnv) []candidateView {
	var out []candidateView
	var seen []string
	for _, site := range from.Sites {
		if site.Snapshot == "" || slices.Contains(seen, site.Snapshot) {
			continue
		}
		seen = append(seen, site.Snapshot)
		here := len(e.Sites) > 0
		for _, mine := range e.Sites {
			here = here && mine.Snapshot == site.Snapshot
		}
		out = append(out, candidateView{Snap: snapOf(site.Snapshot), From: from.Name, Here: here})
	}
	return out
}

// siteHealthClass extends healthClass with the ladder's site summaries
// ("drifted", "not running", "empty").
func siteHealthClass(h string) string {
	if h == "drifted" {
		return "warn"
	}
	return healthClass(h)
}

func promotionClass(p store.PromotionPhase) string {
	switch p {
	case store.PromotionSucceeded:
		return "ok"
	case store.PromotionFailed, store.PromotionBlocked:
		return "bad"
	case store.PromotionPending:
		return "warn"
	default:
		return "busy"
	}
}
