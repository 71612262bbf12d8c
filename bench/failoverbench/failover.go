package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/store"
)

// signal is how a round stops the owner.
type signal struct {
	name string
	sig  syscall.Signal
	key  string // prefix of the round's sample keys
}

var (
	kill = signal{"SIGKILL", syscall.SIGKILL, "k"}
	term = signal{"SIGTERM", syscall.SIGTERM, "t"}
)

// Limits of a round, from the signal.
const (
	takeLimit = 30 * time.Second  // the standby owns the engine (e2e checks 10 s)
	backLimit = 120 * time.Second // every environment runs again (as e2e waits)
	// pollEvery is the poll loop's period: leases, releases, engine.json,
	// the old instances.
	pollEvery = 10 * time.Millisecond
	// statusEvery bounds how often an environment's status is asked for
	// (each answer costs the new owner work while it resumes).
	statusEvery = 100 * time.Millisecond
)

// Goals, reported and never asserted: lease.go's promise that a killed
// holder's work can be taken over within the TTL, and a handover "at
// once" (serve's documentation), read as within one renew interval.
const (
	killGoal = lease.TTL
	termGoal = lease.Every
)

// watch is what a round has seen since the signal. Times read from the
// store (leases, releases) are ladder's own; the others are when the
// bench saw them.
type watch struct {
	oldExpiry time.Time // the old owner's engine lease expires, as last renewed
	taken     time.Time // the standby took the engine lease
	engine    time.Time // engine.json names the standby
	gone      time.Time // none of the old instances runs
	agents    map[string]time.Time
	resumed   map[string]store.Release // each rung's resumed release, once it succeeded

	mu     sync.Mutex
	status map[string]time.Time // the status API showed the rung running
	why    map[string]string    // why the status does not show it yet
	took   []time.Duration      // how long each status request took
}

// round stops the owner with k and times the standby taking over; then
// starts a fresh standby, untimed.
func (b *bench) round(ctx context.Context, res *results, num int, k signal) error {
	owner, standby := b.roles()
	if owner == nil || standby == nil {
		return fmt.Errorf("round %d: want an owner and a standby running", num)
	}
	// What runs before: each rung its snapshot on instances that must not
	// be the ones found running afterwards, and its newest release.
	before := map[string]map[string]bool{}
	old := map[int]bool{} // the instances' PIDs (the process target's IDs)
	newest := map[string]int64{}
	for _, env := range envs {
		st, err := getStatus(ctx, owner, b.token, env)
		if err != nil {
			return fmt.Errorf("round %d, before the %s: %w", num, k.name, err)
		}
		if why := notRunning(st, b.want(env), nil); why != "" {
			return fmt.Errorf("round %d, before the %s: %s: %s", num, k.name, env, why)
		}
		before[env] = instanceIDs(st)
		for id := range before[env] {
			pid, err := strconv.Atoi(id)
			if err != nil {
				return fmt.Errorf("round %d: %s's instance ID %q is not a PID: not the process target", num, env, id)
			}
			old[pid] = true
		}
		rels, err := b.st.ListReleases(ctx, store.ReleaseFilter{Env: env, Limit: 1})
		if err != nil || len(rels) == 0 {
			return fmt.Errorf("round %d: %s's releases: %v", num, env, err)
		}
		newest[env] = rels[0].ID
	}

	b.Logf("round %d: %s the owner, replica %d (pid %d); replica %d (pid %d) is the standby", num, k.name, owner.num, owner.pid, standby.num, standby.pid)
	w := &watch{agents: map[string]time.Time{}, resumed: map[string]store.Release{}, status: map[string]time.Time{}, why: map[string]string{}}
	sctx, stopStatus := context.WithCancel(ctx)
	var pollers sync.WaitGroup
	defer func() {
		stopStatus()
		pollers.Wait()
	}()
	t0 := time.Now()
	if err := owner.cmd.Process.Signal(k.sig); err != nil {
		return fmt.Errorf("round %d: %s pid %d: %w", num, k.name, owner.pid, err)
	}
	last, asking := t0, false
	for {
		now := time.Now()
		res.gap(now.Sub(last))
		last = now
		if err := b.poll(ctx, w, now, owner, standby, old, newest); err != nil {
			return fmt.Errorf("round %d: %w", num, err)
		}
		if !w.engine.IsZero() && !asking {
			// The standby answers: ask each rung's status from now on.
			asking = true
			for _, env := range envs {
				pollers.Go(func() { b.pollStatus(sctx, w, standby, env, before[env]) })
			}
		}
		w.mu.Lock()
		shown, why := len(w.status), maps.Clone(w.why)
		w.mu.Unlock()
		if !w.taken.IsZero() && !w.engine.IsZero() && !w.gone.IsZero() && len(w.agents) == len(envs) &&
			len(w.resumed) == len(envs) && shown == len(envs) && !owner.running() {
			break
		}
		switch {
		case !standby.running():
			return fmt.Errorf("round %d: the standby, replica %d (pid %d), exited (%v):\n%s", num, standby.num, standby.pid, standby.err, harness.Tail([]byte(standby.output())))
		case w.engine.IsZero() && now.Sub(t0) > takeLimit:
			return fmt.Errorf("round %d: the standby (pid %d) did not own the engine within %s of the %s (engine lease taken: %v; engine.json names pid %d):\n%s",
				num, standby.pid, takeLimit, k.name, !w.taken.IsZero(), b.enginePID(), harness.Tail([]byte(standby.output())))
		case owner.running() && now.Sub(t0) > stopLimit:
			return fmt.Errorf("round %d: the old owner (pid %d) did not exit within %s of %s", num, owner.pid, stopLimit, k.name)
		case now.Sub(t0) > backLimit:
			return fmt.Errorf("round %d: not every environment ran again within %s of the %s: resumed %v, status %v, old instances gone %v, agent leases taken %v:\n%s",
				num, backLimit, k.name, slices.Sorted(maps.Keys(w.resumed)), why, !w.gone.IsZero(), slices.Sorted(maps.Keys(w.agents)), harness.Tail([]byte(standby.output())))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
	stopStatus()
	pollers.Wait()

	// The work was done: the old owner ended as told, the standby owns
	// the engine, and each rung was resumed by it, once.
	switch {
	case k == kill && !killedBy(owner.err, syscall.SIGKILL):
		return fmt.Errorf("round %d: the killed owner (pid %d) ended with %v, not SIGKILL", num, owner.pid, owner.err)
	case k == term && owner.err != nil:
		return fmt.Errorf("round %d: the owner stopped with SIGTERM exited: %v:\n%s", num, owner.err, harness.Tail([]byte(owner.output())))
	case w.taken.Before(t0):
		return fmt.Errorf("round %d: the standby took the engine lease at %s, before the %s", num, w.taken.Format(time.RFC3339Nano), k.name)
	case k == kill && w.oldExpiry.IsZero():
		return fmt.Errorf("round %d: the killed owner's engine lease was never seen", num)
	}
	if pid := b.enginePID(); pid != standby.pid {
		return fmt.Errorf("round %d: engine.json names pid %d after the failover, not the standby %d", num, pid, standby.pid)
	}
	if err := b.instancesOnce(); err != nil {
		return fmt.Errorf("round %d: %w", num, err)
	}

	row := roundRow{num: num, kind: k, from: owner.pid, to: standby.pid, envs: map[string]time.Duration{},
		exit: owner.exited.Sub(t0), gone: w.gone.Sub(t0), taken: w.taken.Sub(t0), engine: w.engine.Sub(t0)}
	if k == kill {
		row.expiry = w.oldExpiry.Sub(t0)
	}
	for _, env := range envs {
		r := w.resumed[env]
		row.agents = max(row.agents, w.agents[env].Sub(t0))
		row.started = max(row.started, r.Started.Sub(t0))
		row.envs[env] = r.Finished.Sub(t0)
		row.back = max(row.back, r.Finished.Sub(t0))
		row.deploy = max(row.deploy, r.Finished.Sub(r.Started))
		row.status = max(row.status, w.status[env].Sub(t0))
	}
	res.record(row, w.took)
	b.Logf("  the standby holds the engine lease after %s, engine.json after %s, every environment running after %s (the status API showed it after %s); the old owner exited after %s, its instances after %s",
		harness.Ms(row.taken), harness.Ms(row.engine), harness.Ms(row.back), harness.Ms(row.status), harness.Ms(row.exit), harness.Ms(row.gone))

	// A fresh standby, untimed.
	fresh, err := b.startReplica()
	if err != nil {
		return err
	}
	return b.waitStandby(ctx, fresh, standby)
}

// poll takes one look at the store, engine.json and the old instances,
// and fails on what can no longer come right (a resume that failed).
func (b *bench) poll(ctx context.Context, w *watch, now time.Time, owner, standby *replica, old map[int]bool, newest map[string]int64) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	leases, err := b.st.ListLeases(ctx, "")
	if err != nil {
		return err
	}
	for _, l := range leases {
		switch {
		case l.Name == lease.EngineName && l.Holder.PID == owner.pid && l.Expires.After(w.oldExpiry):
			w.oldExpiry = l.Expires
		case l.Name == lease.EngineName && l.Holder.PID == standby.pid && w.taken.IsZero():
			w.taken = acquired(l, now)
		}
		for _, env := range envs {
			if l.Name == lease.AgentName(env) && l.Holder.PID == standby.pid && w.agents[env].IsZero() {
				w.agents[env] = acquired(l, now)
			}
		}
	}
	if w.gone.IsZero() && !slices.ContainsFunc(harness.ProcessesUnder(b.root), func(pid int) bool { return old[pid] }) {
		w.gone = now
	}
	if w.engine.IsZero() && b.enginePID() == standby.pid {
		w.engine = now
	}
	for _, env := range envs {
		if _, ok := w.resumed[env]; ok {
			continue
		}
		rels, err := b.st.ListReleases(ctx, store.ReleaseFilter{Env: env, Limit: 1})
		if err != nil {
			return err
		}
		if len(rels) == 0 || rels[0].ID <= newest[env] {
			continue
		}
		r := rels[0]
		switch {
		case r.By != agent.ResumeActor || r.Snapshot != b.want(env):
			return fmt.Errorf("%s's newest release %d is of %s by %s, want %s by %s", env, r.ID, short(r.Snapshot), r.By, short(b.want(env)), agent.ResumeActor)
		case r.Phase == store.PhaseSucceeded:
			w.resumed[env] = r
		case r.Phase != store.PhaseProgressing:
			return fmt.Errorf("%s's resumed release %d is %s (%s)", env, r.ID, r.Phase, r.Reason)
		}
	}
	return nil
}

// pollStatus asks the standby for env's status every statusEvery until
// it shows env running again (on none of the instances in old), and
// records when that answer came.
func (b *bench) pollStatus(ctx context.Context, w *watch, standby *replica, env string, old map[string]bool) {
	for {
		asked := time.Now()
		st, err := getStatus(ctx, standby, b.token, env)
		if ctx.Err() != nil {
			return
		}
		answered := time.Now()
		why := ""
		if err != nil {
			why = err.Error()
		} else {
			why = notRunning(st, b.want(env), old)
		}
		w.mu.Lock()
		w.took = append(w.took, answered.Sub(asked))
		w.why[env] = why
		if why == "" {
			w.status[env] = answered
		}
		w.mu.Unlock()
		if why == "" {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(statusEvery - time.Since(asked)):
		}
	}
}

// roles are the replicas running: the one engine.json names, and the
// other one.
func (b *bench) roles() (owner, standby *replica) {
	b.mu.Lock()
	defer b.mu.Unlock()
	pid := b.enginePID()
	for _, r := range b.replicas {
		switch {
		case !r.running():
		case r.pid == pid:
			owner = r
		default:
			standby = r
		}
	}
	return owner, standby
}

// acquired is when a lease seen at now was taken: the expiry its holder
// wrote minus the TTL, unless that lies ahead of now (never, but for the
// store's millisecond rounding).
func acquired(l store.Lease, now time.Time) time.Time {
	if t := l.Expires.Add(-lease.TTL); t.Before(now) {
		return t
	}
	return now
}

// killedBy reports whether err is a process's end by sig.
func killedBy(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	st, ok := ee.Sys().(syscall.WaitStatus)
	return ok && st.Signaled() && st.Signal() == sig
}

// instancesOnce fails unless exactly one instance per service and rung
// runs from the copy (within 15 s: an old instance takes a moment to
// exit): none of the old owner's left, none started twice.
func (b *bench) instancesOnce() error {
	want := len(services) * len(envs)
	deadline := time.Now().Add(15 * time.Second)
	for {
		pids := harness.ProcessesUnder(b.root)
		if len(pids) == want {
			return nil
		}
		if len(pids) < want || time.Now().After(deadline) {
			return fmt.Errorf("%d service instances run from the copy, want %d (%d services on %d rungs): %v", len(pids), want, len(services), len(envs), pids)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

// getStatus is env's status from r's API over TCP, with the token.
func getStatus(ctx context.Context, r *replica, token, env string) (*api.Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.listen+"/v1/envs/"+env+"/status", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /v1/envs/%s/status: %w", env, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /v1/envs/%s/status: %w", env, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/envs/%s/status: HTTP %d: %s", env, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var st api.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("GET /v1/envs/%s/status: %w", env, err)
	}
	return &st, nil
}

// notRunning says why st is not every site running want with every
// service healthy on instances of want, none of them in old; "" when it
// is.
func notRunning(st *api.Status, want string, old map[string]bool) string {
	if len(st.Sites) == 0 {
		return "no site"
	}
	for _, site := range st.Sites {
		if site.Snapshot != want {
			return fmt.Sprintf("site %s runs %s, want %s", site.Site, short(site.Snapshot), short(want))
		}
		var names []string
		for _, s := range site.Services {
			names = append(names, s.Name)
			if s.Health != "healthy" || len(s.Instances) == 0 {
				return fmt.Sprintf("%s is %s with %d instances", s.Name, s.Health, len(s.Instances))
			}
			for _, in := range s.Instances {
				if in.Snapshot != want {
					return fmt.Sprintf("%s's instance %s runs %s", s.Name, in.ID, short(in.Snapshot))
				}
				if old[in.ID] {
					return fmt.Sprintf("%s's instance %s ran before", s.Name, in.ID)
				}
			}
		}
		if !harness.SameSet(names, services...) {
			return fmt.Sprintf("site %s has services %v, want %v", site.Site, names, services)
		}
	}
	return ""
}

// instanceIDs are the IDs of every instance in st.
func instanceIDs(st *api.Status) map[string]bool {
	ids := map[string]bool{}
	for _, site := range st.Sites {
		for _, s := range site.Services {
			for _, in := range s.Instances {
				ids[in.ID] = true
			}
		}
	}
	return ids
}

// roundRow is one round's figures, each from the signal.
type roundRow struct {
	num      int
	kind     signal
	from, to int           // PIDs of the old owner and the standby
	exit     time.Duration // the old owner exited
	gone     time.Duration // its instances exited: the services are down
	expiry   time.Duration // the dead owner's engine lease expired (SIGKILL)
	taken    time.Duration // the standby took the engine lease
	engine   time.Duration // engine.json names the standby
	agents   time.Duration // the standby holds every environment's agent lease
	started  time.Duration // the last resumed release started
	envs     map[string]time.Duration
	back     time.Duration // the last resumed release succeeded
	deploy   time.Duration // the longest resumed release, started to succeeded
	status   time.Duration // the status API showed every environment running
}

type results struct {
	harness.Samples
	env    environ
	s1, s2 string
	rounds []roundRow
	maxGap time.Duration // the poll loop's largest period
}

func newResults() *results { return &results{Samples: harness.Samples{}} }

// environ is where and how the figures were taken.
type environ struct {
	harness.Env
	Postgres string
}

// gap records one period of the poll loop.
func (r *results) gap(d time.Duration) { r.maxGap = max(r.maxGap, d) }

// record adds a round's figures, and how long its status requests took,
// to the samples.
func (r *results) record(row roundRow, took []time.Duration) {
	r.rounds = append(r.rounds, row)
	k := row.kind.key
	if row.kind == kill {
		r.Add(k+".expiry", row.expiry)
		r.Add(k+".pickup", row.taken-row.expiry)
	} else {
		r.Add(k+".exit", row.exit)
	}
	r.Add(k+".gone", row.gone)
	r.Add(k+".taken", row.taken)
	r.Add(k+".engine", row.engine)
	r.Add(k+".agents", row.agents)
	r.Add(k+".started", row.started)
	for _, env := range envs {
		r.Add(k+".env."+env, row.envs[env])
	}
	r.Add(k+".back", row.back)
	r.Add(k+".status", row.status)
	r.Add(k+".after", row.back-row.taken)
	r.Add(k+".deploy", row.deploy)
	r.Add(k+".down", row.back-row.gone)
	for _, d := range took {
		r.Add("status", d)
	}
}

// ttlRatio is d over the lease TTL, as the report prints it.
func ttlRatio(d time.Duration) string {
	return fmt.Sprintf("%.2f×", harness.Ratio(d, lease.TTL))
}

// rows are a signal's figures in the order they happen.
func rows(k signal) []harness.Row {
	s, p := k.name, k.key+"."
	var out []harness.Row
	if k == kill {
		out = append(out,
			harness.Row{Key: p + "gone", Name: s + " → the old owner's service instances have exited (the services are down)"},
			harness.Row{Key: p + "expiry", Name: s + " → the dead owner's engine lease expires"},
			harness.Row{Key: p + "pickup", Name: "… expiry → the standby holds the engine lease"})
	} else {
		out = append(out,
			harness.Row{Key: p + "exit", Name: s + " → the old owner has exited"},
			harness.Row{Key: p + "gone", Name: s + " → its service instances have exited (the services are down)"})
	}
	return append(out,
		harness.Row{Key: p + "taken", Name: "**" + s + " → the standby holds the engine lease**"},
		harness.Row{Key: p + "engine", Name: s + " → engine.json names the standby (taken over, API answering)"},
		harness.Row{Key: p + "agents", Name: s + " → the standby holds every environment's agent lease"},
		harness.Row{Key: p + "started", Name: s + " → the last resumed release has started"},
		harness.Row{Key: p + "env.local", Name: s + " → local runs S2 again (its resumed release succeeded)"},
		harness.Row{Key: p + "env.dev", Name: s + " → dev runs S1 again"},
		harness.Row{Key: p + "back", Name: "**" + s + " → every environment runs its last good snapshot again**"},
		harness.Row{Key: p + "status", Name: s + " → the status API shows every environment running (asked every 100 ms)"},
		harness.Row{Key: p + "after", Name: "engine lease taken → every environment running (the new owner's work)"},
		harness.Row{Key: p + "deploy", Name: "… of which the longer resumed release (started → succeeded)"},
		harness.Row{Key: p + "down", Name: "services down: instances exited → every environment running"},
	)
}

func (r *results) markdown(bn *bench) string {
	var b strings.Builder
	e := r.env
	fmt.Fprintf(&b, "# Failover benchmark, %s\n\n", e.Date)
	fmt.Fprintf(&b, "- command: `%s` (N=%d rounds of each signal, alternating)\n", e.Command, bn.n)
	fmt.Fprintf(&b, "- ladder: commit %s; two `ladder serve --listen` replicas on one PostgreSQL store (`LADDER_STORE`), process target (`LADDER_TARGET=process`), the trading demo without its database on two rungs: local runs S2 `%s`, dev S1 `%s`, four services each\n", e.Commit, short(r.s2), short(r.s1))
	fmt.Fprintf(&b, "- store: %s, a server of the run's own (pgtest: 127.0.0.1, fsync off)\n", e.Postgres)
	fmt.Fprintf(&b, "- machine: %d CPUs, Linux %s, %s\n", e.CPUs, e.Kernel, e.GoVersion)
	fmt.Fprintf(&b, "- load average (1, 5, 15 min): %s before, %s after\n", e.LoadBefore, e.LoadAfter)
	fmt.Fprintf(&b, "- lease timing (internal/lease): TTL %s, renewed every %s; a standby asks for the engine lease every 100 ms\n", lease.TTL, lease.Every)
	st := r.Stat("status")
	fmt.Fprintf(&b, "- times in ms from the signal. Lease and release times are ladder's own (a lease's expiry minus the TTL; a release's started and finished), to the millisecond. The rest is polled: every %s (the loop's longest period was %s), the status API every %s per environment (an answer took %s median, %s at most, N=%d; the time is when the answer came)\n",
		pollEvery, harness.Ms(r.maxGap), statusEvery, harness.Ms(st.Median), harness.Ms(st.Max), st.N)
	fmt.Fprintf(&b, "- a noisy shared machine: compare medians, not single runs\n\n")

	fmt.Fprintf(&b, "## SIGKILL of the owner (failover)\n\n")
	fmt.Fprintf(&b, "The owner dies without a word. Its service instances die with it (the process target starts them with a parent-death signal). Its engine lease, and each environment's agent lease, stay in the store until they expire, TTL after its last renewal. The standby asks for the engine lease every 100 ms and gets it once it has expired; it then closes what the dead owner left half done (TakeOver), answers on its socket and --listen address and writes engine.json, and starts each environment in turn: the agent takes the environment's agent lease (waiting for the dead owner's to expire) and resumes the last good release from the store.\n\n")
	r.WriteTable(&b, rows(kill), false)
	kt, kb := r.Median("k.taken"), r.Median("k.back")
	fmt.Fprintf(&b, "\n- failover / lease TTL (medians): engine owned %s, environments running %s.\n", ttlRatio(kt), ttlRatio(kb))
	fmt.Fprintf(&b, "- Goal, the standby owns the engine within the lease TTL (%s) of the SIGKILL: **%s** (median %s, max %s).\n\n", lease.TTL, harness.Verdict(r.Stat("k.taken").Max <= killGoal), harness.Ms(kt), harness.Ms(r.Stat("k.taken").Max))

	fmt.Fprintf(&b, "## SIGTERM of the owner (handover)\n\n")
	fmt.Fprintf(&b, "The owner stops its environments, leaving the sites to the next engine (the process target's instances end with the engine that supervises them), shuts its API down and releases its leases; the standby takes the engine lease on its next ask. The rest is as after a SIGKILL, without waiting for leases to expire.\n\n")
	r.WriteTable(&b, rows(term), false)
	tt, tb := r.Median("t.taken"), r.Median("t.back")
	fmt.Fprintf(&b, "\n- handover / lease TTL (medians): engine owned %s, environments running %s.\n", ttlRatio(tt), ttlRatio(tb))
	fmt.Fprintf(&b, "- Goal, the standby owns the engine within one renew interval (%s) of the SIGTERM: **%s** (median %s, max %s).\n\n", lease.Every, harness.Verdict(r.Stat("t.taken").Max <= termGoal), harness.Ms(tt), harness.Ms(r.Stat("t.taken").Max))

	fmt.Fprintf(&b, "Reference, from the setup (N=1 each): a release starting the same four services on an empty site, as a resume does, with nothing else deploying: `deploy.duration` of the first `ladder up` on local %s, of `ladder promote S1 --to dev` %s. A resume after a failover runs on both rungs at once, on a machine that also runs the other replica.\n\n",
		harness.Ms(r.Median("ref.up")), harness.Ms(r.Median("ref.promote")))

	fmt.Fprintf(&b, "## Every round\n\n")
	fmt.Fprintf(&b, "ms from the signal; the old owner → the standby by PID; \"lease expired\" is the dead owner's engine lease (SIGKILL only); local and dev are when each one's resumed release succeeded.\n\n")
	fmt.Fprintf(&b, "| round | signal | owner → standby | owner exited | its instances exited | lease expired | engine lease | engine.json | agent leases | resumes started | local | dev | all running | status API |\n|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.rounds {
		expiry := "-"
		if row.kind == kill {
			expiry = harness.Num(row.expiry)
		}
		fmt.Fprintf(&b, "| %d | %s | %d → %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", row.num, row.kind.name, row.from, row.to,
			harness.Num(row.exit), harness.Num(row.gone), expiry, harness.Num(row.taken), harness.Num(row.engine), harness.Num(row.agents),
			harness.Num(row.started), harness.Num(row.envs["local"]), harness.Num(row.envs["dev"]), harness.Num(row.back), harness.Num(row.status))
	}
	fmt.Fprintf(&b, "\nChecked in every round: the old owner ended as signalled (killed; exit 0 after SIGTERM) and its instances exited; the standby holds the engine lease and engine.json names it; each rung's newest release is a new one of its snapshot by `%s`, succeeded; the status API shows every site on that snapshot with all four services healthy on instances that did not run before; and exactly %d service instances run from the copy (%d services on %d rungs). Then a fresh replica must say it is the standby of the new owner.\n\n", agent.ResumeActor, len(services)*len(envs), len(services), len(envs))

	fmt.Fprintf(&b, "## Exact commands\n\n")
	fmt.Fprintf(&b, "Every ladder command is `TMP/bin/ladder -C DIR ARGS` with `LADDER_TARGET=process`, `LADDER_STORE=postgres://postgres@127.0.0.1:PORT/failoverbench_1?sslmode=disable` and (once made) `LADDER_TOKEN` added to the environment; DIR is the demo copy `TMP/demo/examples/trading`.\n\n```sh\n")
	fmt.Fprintf(&b, "go build -o TMP/bin/ladder ./cmd/ladder\n")
	fmt.Fprintf(&b, "# setup (compose.yaml without db and migrate, web published as \"8080\"; ladder.yaml = local and dev, process target, dashboard 127.0.0.1:0)\n")
	fmt.Fprintf(&b, "ladder token create failoverbench --role admin -o json\n")
	fmt.Fprintf(&b, "ladder serve --listen 127.0.0.1:PORT1 &                # replica 1: owns the engine (engine.json names it)\n")
	fmt.Fprintf(&b, "ladder up -o json --dashboard 127.0.0.1:0 -d            # S1 on local, through the engine\n")
	fmt.Fprintf(&b, "ladder promote S1 --to dev -o json\n")
	fmt.Fprintf(&b, "# compose.yaml: trades gets FAILOVERBENCH_VARIANT: \"2\"\nladder up -o json --dashboard 127.0.0.1:0 -d            # S2 on local, builds nothing\n")
	fmt.Fprintf(&b, "ladder serve --listen 127.0.0.1:PORT2 &                # replica 2: \"standby: the engine of this store runs as pid …\"\n")
	fmt.Fprintf(&b, "# each round, alternating\n")
	fmt.Fprintf(&b, "kill -KILL OWNER                                        # or: kill -TERM OWNER\n")
	fmt.Fprintf(&b, "#   every 10 ms (done in Go, through ladder's store): SELECT … FROM leases; the newest release of local and of dev;\n")
	fmt.Fprintf(&b, "#   .ladder/engine.json; /proc for the old instances. Once engine.json names the standby, every 100 ms per rung:\n")
	fmt.Fprintf(&b, "curl -H 'Authorization: Bearer TOKEN' http://127.0.0.1:PORT2/v1/envs/ENV/status\n")
	fmt.Fprintf(&b, "ladder serve --listen 127.0.0.1:PORT3 &                # the next standby, untimed\n")
	fmt.Fprintf(&b, "# cleanup\nladder down --env local; ladder down --env dev          # through the engine; then SIGTERM to every replica, standbys first\n```\n")
	return b.String()
}
