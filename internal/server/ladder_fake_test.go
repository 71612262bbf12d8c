package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

// snapD is an older snapshot that runs nowhere but is staging's
// known-good rollback target.
var snapD = strings.Repeat("d00dfeed", 8)

// fakeLadder is a Source that also serves the ladder: a small model of
// the fixture's four rungs in which a promotion to a rung whose gates ask
// for approvals is blocked until someone approves, a promotion that
// passes deploys the snapshot to every site of the rung, and a rollback
// returns to the newest known-good release of another snapshot. It
// records every action it is asked for, in order.
type fakeLadder struct {
	fakeSource

	mu       sync.Mutex
	l        *api.Ladder
	approved map[string]bool // "env snapshot"
	calls    []any
	nextID   int64
	// hold, when set, keeps Promote waiting until it is closed, so a
	// test can watch the page while an action runs.
	hold chan struct{}
	// ladderErr makes Ladder fail; result, when set, answers every action.
	ladderErr error
	result    func(req any) (*api.ActionResult, error)
}

func newFakeLadder() *fakeLadder {
	return &fakeLadder{l: fixtureLadder(), approved: map[string]bool{}, nextID: 40}
}

// setHold makes the next promotions wait until the returned func is called.
func (f *fakeLadder) setHold() (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.hold = ch
	f.mu.Unlock()
	return sync.OnceFunc(func() { close(ch) })
}

// Calls returns the actions received so far.
func (f *fakeLadder) Calls() []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]any(nil), f.calls...)
}

func (f *fakeLadder) Ladder(context.Context) (*api.Ladder, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ladderErr != nil {
		return nil, f.ladderErr
	}
	// A deep copy, so a page rendering it races no action.
	b, err := json.Marshal(f.l)
	if err != nil {
		return nil, err
	}
	var out api.Ladder
	return &out, json.Unmarshal(b, &out)
}

// record notes the call; ok is false when a canned result answers it.
func (f *fakeLadder) record(req any) (res *api.ActionResult, err error, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
	if f.result != nil {
		res, err = f.result(req)
		return res, err, false
	}
	return nil, nil, true
}

func (f *fakeLadder) Promote(_ context.Context, req api.PromoteRequest) (*api.ActionResult, error) {
	if res, err, ok := f.record(req); !ok {
		return res, err
	}
	f.mu.Lock()
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("fake: held for too long")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	to, snap, err := f.find(req.To, req.Snapshot)
	if err != nil {
		return nil, err
	}
	short := snapshot.Short(snap)
	f.nextID++
	pr := api.PromotionView{Promotion: store.Promotion{ID: f.nextID, Snapshot: snap, From: to.From, To: to.Name,
		Phase: store.PromotionSucceeded, By: req.By, Why: req.Why, Created: t0, Updated: t0}}
	pr.Gates = []store.GateResult{{Promotion: pr.ID, Gate: "previous-rung", Passed: true, At: t0,
		Reason: fmt.Sprintf("snapshot %s runs on every site of %s", short, to.From)}}
	if need := approvalsNeeded(to); need > 0 {
		has := 0
		if f.approved[to.Name+" "+snap] {
			has = 1
		}
		g := store.GateResult{Promotion: pr.ID, Gate: "approvals", Passed: has >= need, At: t0,
			Reason: fmt.Sprintf("needs %d approval(s), has %d: ladder approve %s --to %s", need, has, short, to.Name)}
		pr.Gates = append(pr.Gates, g)
		if !g.Passed {
			pr.Phase, pr.Reason = store.PromotionBlocked, "gate approvals not passed"
			to.Promotions = append([]api.PromotionView{pr}, to.Promotions...)
			return &api.ActionResult{Error: fmt.Sprintf("promotion of %s to %s blocked: approvals: %s", short, to.Name, g.Reason), Promotion: &pr}, nil
		}
		pr.Gates[len(pr.Gates)-1].Reason = "approved by 1 identity"
	}
	to.Promotions = append([]api.PromotionView{pr}, to.Promotions...)
	f.deploy(to, snap, req.By)
	return &api.ActionResult{OK: true, Message: fmt.Sprintf("snapshot %s promoted to %s", short, to.Name), Promotion: &pr}, nil
}

func (f *fakeLadder) Approve(_ context.Context, req api.ApproveRequest) (*api.ActionResult, error) {
	if res, err, ok := f.record(req); !ok {
		return res, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	env, snap, err := f.find(req.Env, req.Snapshot)
	if err != nil {
		return nil, err
	}
	f.approved[env.Name+" "+snap] = true
	return &api.ActionResult{OK: true, Message: fmt.Sprintf("%s approved snapshot %s for %s", req.By, snapshot.Short(snap), env.Name)}, nil
}

func (f *fakeLadder) Rollback(_ context.Context, req api.RollbackRequest) (*api.ActionResult, error) {
	if res, err, ok := f.record(req); !ok {
		return res, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	env, _, err := f.find(req.Env, "")
	if err != nil {
		return nil, err
	}
	current := env.Sites[0].Snapshot
	for _, r := range env.History {
		if r.KnownGood && r.Snapshot != current {
			f.deploy(env, r.Snapshot, req.By)
			return &api.ActionResult{OK: true, Message: fmt.Sprintf("%s rolled back to snapshot %s", env.Name, snapshot.Short(r.Snapshot))}, nil
		}
	}
	return &api.ActionResult{Error: env.Name + " has no known-good snapshot other than the one it runs"}, nil
}

// find resolves an environment and a snapshot prefix (when given).
func (f *fakeLadder) find(envName, ref string) (*api.LadderEnv, string, error) {
	var env *api.LadderEnv
	for i := range f.l.Environments {
		if f.l.Environments[i].Name == envName {
			env = &f.l.Environments[i]
		}
	}
	if env == nil {
		return nil, "", fmt.Errorf("environment %q: %w", envName, store.ErrNotFound)
	}
	if ref == "" {
		return env, "", nil
	}
	for _, s := range f.l.Snapshots {
		if strings.HasPrefix(s.ID, ref) {
			return env, s.ID, nil
		}
	}
	return nil, "", fmt.Errorf("snapshot %s: %w", ref, store.ErrNotFound)
}

// deploy makes every site of env run snap, as a new release each.
func (f *fakeLadder) deploy(env *api.LadderEnv, snap, by string) {
	for i := range env.Sites {
		site := &env.Sites[i]
		f.nextID++
		rel := store.Release{ID: f.nextID, Env: env.Name, Site: site.Site, Snapshot: snap, Phase: store.PhaseSucceeded,
			Started: t0, Finished: t0, By: by}
		site.Snapshot, site.Release, site.Health = snap, &rel, "healthy"
		env.History = append([]store.Release{rel}, env.History...)
	}
	// What a rollback would return to now, as the agent reports it.
	env.RollbackTo = ""
	for _, r := range env.History {
		if r.KnownGood && r.Snapshot != snap {
			env.RollbackTo = r.Snapshot
			break
		}
	}
	where := map[string][]string{}
	for _, e := range f.l.Environments {
		for _, s := range e.Sites {
			if s.Snapshot != "" {
				where[s.Snapshot] = append(where[s.Snapshot], e.Name+"/"+s.Site)
			}
		}
	}
	for i := range f.l.Snapshots {
		f.l.Snapshots[i].Running = nonNil(where[f.l.Snapshots[i].ID])
	}
}

func approvalsNeeded(e *api.LadderEnv) int {
	for _, g := range e.Gates {
		var n int
		if _, err := fmt.Sscanf(g, "%d approval", &n); err == nil {
			return n
		}
	}
	return 0
}

// fixtureLadder is five rungs: local and dev run snapC and snapA (dev's
// attempt at snapC failed), staging runs snapB on two sites and needs an
// approval, prod runs nothing and has a promotion of snapB waiting for
// approvals, and preview is a template. local, dev and staging each have
// an earlier known-good snapshot to roll back to.
func fixtureLadder() *api.Ladder {
	rel := func(id int64, env, site, snap string, phase store.Phase, good bool, ago time.Duration) store.Release {
		return store.Release{ID: id, Env: env, Site: site, Snapshot: snap, Phase: phase, KnownGood: good,
			Started: t0.Add(-ago - 40*time.Second), Finished: t0.Add(-ago)}
	}
	ptr := func(r store.Release) *store.Release { return &r }
	devFailed := rel(23, "dev", "local", snapC, store.PhaseFailed, false, 4*time.Minute)
	devFailed.Reason = "api never became healthy: GET /healthz answered 503"
	at := t0.Add(-20 * time.Minute)
	return &api.Ladder{
		Stack:     "shop",
		Generated: t0,
		Environments: []api.LadderEnv{
			{
				Name: "local", Target: "process", Running: true, AgentURL: "http://127.0.0.1:7701",
				Sites: []api.LadderSite{{Site: "local", Snapshot: snapC, Health: "healthy",
					Release: ptr(rel(31, "local", "local", snapC, store.PhaseSucceeded, true, 8*time.Minute)), RequestRate: 3.2}},
				History: []store.Release{rel(31, "local", "local", snapC, store.PhaseSucceeded, true, 8*time.Minute),
					rel(30, "local", "local", snapA, store.PhaseSucceeded, true, 2*time.Hour)},
				RollbackTo: snapA,
			},
			{
				Name: "dev", From: "local", Target: "process", Gates: []string{"soak 10s"}, Running: true, AgentURL: "http://127.0.0.1:7702",
				Sites: []api.LadderSite{{Site: "local", Snapshot: snapA, Health: "healthy", Release: &devFailed,
					RequestRate: 48.5, ErrorRate: 0.004}},
				Promotions: []api.PromotionView{{
					Promotion: store.Promotion{ID: 10, Snapshot: snapC, From: "local", To: "dev", Phase: store.PromotionFailed,
						Reason: "deploy failed: api never became healthy", By: "bob", Created: t0.Add(-5 * time.Minute), Updated: t0.Add(-4 * time.Minute)},
					Gates: []store.GateResult{
						{Promotion: 10, Gate: "previous-rung", Passed: true, Reason: "snapshot " + snapshot.Short(snapC) + " runs on every site of local", At: t0},
						{Promotion: 10, Gate: "soak", Passed: true, Reason: "ran healthy on local for at least 10s", At: t0},
					},
				}},
				History: []store.Release{devFailed, rel(22, "dev", "local", snapA, store.PhaseSucceeded, true, 2*time.Hour),
					rel(21, "dev", "local", snapD, store.PhaseSucceeded, true, 50*time.Hour)},
				RollbackTo: snapD,
			},
			{
				Name: "staging", From: "dev", Target: "compose", Protected: true, Gates: []string{"soak 1m0s", "test smoke", "1 approval(s)"},
				Running: true, AgentURL: "http://127.0.0.1:7703",
				Sites: []api.LadderSite{
					{Site: "eu", Snapshot: snapB, Health: "healthy", Release: ptr(rel(14, "staging", "eu", snapB, store.PhaseSucceeded, true, 26*time.Hour)),
						RequestRate: 120.4, ErrorRate: 0.0012},
					{Site: "us", Snapshot: snapB, Health: "starting", Release: ptr(rel(15, "staging", "us", snapB, store.PhaseSucceeded, false, 25*time.Hour)),
						RequestRate: 95, ErrorRate: 0.031},
				},
				History: []store.Release{
					rel(15, "staging", "us", snapB, store.PhaseSucceeded, false, 25*time.Hour),
					rel(14, "staging", "eu", snapB, store.PhaseSucceeded, true, 26*time.Hour),
					rel(13, "staging", "us", snapD, store.PhaseSucceeded, true, 70*time.Hour),
					rel(12, "staging", "eu", snapD, store.PhaseSucceeded, true, 71*time.Hour),
					rel(11, "staging", "eu", snapD, store.PhaseFailed, false, 72*time.Hour),
					rel(10, "staging", "eu", snapD, store.PhaseInterrupted, false, 73*time.Hour),
				},
				RollbackTo: snapD,
			},
			{
				Name: "prod", From: "staging", Target: "compose", Protected: true, Gates: []string{"2 approval(s)", "signed"},
				Sites: []api.LadderSite{{Site: "main", Health: "not running"}},
				Promotions: []api.PromotionView{{
					Promotion: store.Promotion{ID: 9, Snapshot: snapB, From: "staging", To: "prod", Phase: store.PromotionPending,
						By: "carol@example.com", Why: "weekly release", Created: at, Updated: at},
					Gates: []store.GateResult{
						{Promotion: 9, Gate: "previous-rung", Passed: true, Reason: "snapshot " + snapshot.Short(snapB) + " runs on every site of staging", At: at},
						{Promotion: 9, Gate: "signature", Passed: true, Reason: "signed by release-key", At: at},
						{Promotion: 9, Gate: "approvals", Passed: false, At: at,
							Reason: "needs 2 approval(s), has 1 (alice@example.com): ladder approve " + snapshot.Short(snapB) + " --to prod"},
					},
				}},
			},
			{
				Name: "preview", From: "dev", Target: "auto", Template: true,
				Sites: []api.LadderSite{{Site: "default", Health: "not running"}},
			},
		},
		Snapshots: []api.SnapshotSummary{
			{ID: snapC, Created: t0.Add(-10 * time.Minute), Revision: "9f1c2ab", Services: 3, Running: []string{"local/local"}},
			{ID: snapA, Created: t0.Add(-2*time.Hour - 5*time.Minute), Revision: "77e0d1c", Services: 3, Running: []string{"dev/local"}},
			{ID: snapB, Created: t0.Add(-27 * time.Hour), Revision: "4b8e990", Services: 3, Running: []string{"staging/eu", "staging/us"}},
			{ID: snapD, Created: t0.Add(-4 * 24 * time.Hour), Revision: "1a2b3c4", Services: 2, Running: []string{}},
		},
	}
}
