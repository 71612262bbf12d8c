package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
	"github.com/ladderhq/ladder/internal/target"
)

// fakeTarget is a target.Target whose behaviour each test chooses.
type fakeTarget struct {
	observe func(ctx context.Context, site render.SiteRef) (*plan.Observed, error)
	apply   func(ctx context.Context, d *render.Desired, p *plan.Plan, opts target.ApplyOptions) error

	applied int // how many times Apply was called
}

var _ target.Target = (*fakeTarget)(nil)

func (f *fakeTarget) Kind() string { return "fake" }

func (f *fakeTarget) Observe(ctx context.Context, site render.SiteRef) (*plan.Observed, error) {
	if f.observe == nil {
		return &plan.Observed{SiteRef: site}, nil
	}
	return f.observe(ctx, site)
}

func (f *fakeTarget) Apply(ctx context.Context, d *render.Desired, p *plan.Plan, opts target.ApplyOptions) error {
	f.applied++
	if f.apply == nil {
		return nil
	}
	return f.apply(ctx, d, p, opts)
}

func (f *fakeTarget) Down(context.Context, render.SiteRef, target.DownOptions) error { return nil }

func (f *fakeTarget) Endpoints(render.SiteRef) []target.Endpoint { return nil }

func (f *fakeTarget) Logs(context.Context, render.SiteRef, string, target.LogOptions, io.Writer) error {
	return nil
}

const (
	snapID  = "eeeeeeeeeeee" + "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	oldSnap = "dddddddddddd" + "dddddddddddddddddddddddddddddddddddddddddddddddddddd"
	owner   = "host/12345/deployer"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ladder.db"))
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func digest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// desired is a two-service site: db, and api after it.
func desired() *render.Desired {
	svcs := []render.Service{
		{Name: "db", Digest: digest("1"), Entrypoint: []string{"/db"}, Replicas: 1, Restart: "always"},
		{Name: "api", Digest: digest("2"), Entrypoint: []string{"/api"}, Replicas: 1, Restart: "on-failure",
			DependsOn: []render.Dependency{{Service: "db", Condition: render.ConditionStarted}}},
	}
	for i := range svcs {
		svcs[i].Config = render.ConfigHash(svcs[i])
	}
	return &render.Desired{SiteRef: render.SiteRef{Env: "dev", Site: "east"}, Stack: "shop", Snapshot: snapID, Services: svcs}
}

// runs returns the instances of a site running d, as of snapshot snap.
func runs(d *render.Desired, snap string) *plan.Observed {
	obs := &plan.Observed{SiteRef: d.SiteRef}
	for _, s := range d.Services {
		for i := 1; i <= s.Replicas; i++ {
			obs.Instances = append(obs.Instances, plan.Instance{
				Service: s.Name, Slot: plan.SlotName(i, s.Config), Snapshot: snap,
				Digest: s.Digest, Config: s.Config, State: plan.StateRunning, ID: fmt.Sprint(1000 + i),
			})
		}
	}
	return obs
}

func newDeployer(st store.Store) *Deployer {
	return &Deployer{Store: st, Events: &Recorder{Store: st}, Holder: ownerHolder}
}

func events(t *testing.T, st store.Store) []store.Event {
	t.Helper()
	evs, err := st.ListEvents(context.Background(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func releases(t *testing.T, st store.Store) []store.Release {
	t.Helper()
	rels, err := st.ListReleases(context.Background(), store.ReleaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return rels
}

// checkEvents asserts the kinds, the site and snapshot they carry, and
// their release attribute.
func checkEvents(t *testing.T, evs []store.Event, release int64, kinds ...store.EventKind) {
	t.Helper()
	var got []store.EventKind
	for _, e := range evs {
		got = append(got, e.Kind)
	}
	if !slices.Equal(got, kinds) {
		t.Fatalf("events %q, want %q", got, kinds)
	}
	for _, e := range evs {
		if e.Env != "dev" || e.Site != "east" || e.Snapshot != snapID {
			t.Errorf("event %s is about %s/%s snapshot %s, want dev/east snapshot %s", e.Kind, e.Env, e.Site, e.Snapshot, snapID)
		}
		if want := fmt.Sprint(release); e.Attrs["release"] != want {
			t.Errorf("event %s attrs %v, want release=%s", e.Kind, e.Attrs, want)
		}
		if e.Time.IsZero() {
			t.Errorf("event %s has no time", e.Kind)
		}
	}
}

func TestDeploySucceeds(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	d := desired()
	var (
		seenPlan    *plan.Plan
		phaseDuring store.Phase
		gotOpts     target.ApplyOptions
		progressed  []string
	)
	tgt := &fakeTarget{
		apply: func(ctx context.Context, gotD *render.Desired, p *plan.Plan, opts target.ApplyOptions) error {
			if gotD != d || p != seenPlan {
				t.Errorf("Apply got another desired state or plan than was computed")
			}
			rel, err := st.GetRelease(ctx, 1)
			if err != nil {
				t.Errorf("the release is not recorded while it is applied: %v", err)
			}
			phaseDuring = rel.Phase
			gotOpts = opts
			opts.Progress(target.Progress{Service: "db", Step: "started"})
			return nil
		},
	}
	before := time.Now().Add(-time.Second)
	res, err := newDeployer(st).Deploy(ctx, tgt, d, Options{
		HealthTimeout: 42 * time.Second,
		Progress:      func(p target.Progress) { progressed = append(progressed, p.Service+" "+p.Step) },
		Plan:          func(p *plan.Plan) { seenPlan = p },
	})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if tgt.applied != 1 {
		t.Fatalf("Apply called %d times, want 1", tgt.applied)
	}
	if seenPlan == nil {
		t.Fatal("Options.Plan was not told of the plan")
	}
	if phaseDuring != store.PhaseProgressing {
		t.Errorf("phase while applying = %q, want progressing", phaseDuring)
	}
	if gotOpts.HealthTimeout != 42*time.Second || !slices.Equal(progressed, []string{"db started"}) {
		t.Errorf("Apply options: timeout %s, progress %q; want 42s and the caller's callback", gotOpts.HealthTimeout, progressed)
	}

	if res.Environment != "dev" || res.Site != "east" || res.Snapshot != snapID || res.Release != 1 {
		t.Errorf("result %s/%s snapshot %s release %d, want dev/east %s release 1", res.Environment, res.Site, res.Snapshot, res.Release, snapID)
	}
	if !slices.Equal(res.Changed, []string{"db", "api"}) {
		t.Errorf("Changed = %q, want [db api]", res.Changed)
	}
	if res.Plan != seenPlan.String() || !strings.Contains(res.Plan, "+ db ") {
		t.Errorf("Plan = %q, want the plan's text %q", res.Plan, seenPlan.String())
	}
	if res.Error != "" || res.LastLines != nil || res.Duration <= 0 {
		t.Errorf("result error %q lines %q duration %s", res.Error, res.LastLines, res.Duration)
	}

	rels := releases(t, st)
	if len(rels) != 1 {
		t.Fatalf("%d releases, want 1", len(rels))
	}
	r := rels[0]
	if r.ID != 1 || r.Env != "dev" || r.Site != "east" || r.Snapshot != snapID || r.Phase != store.PhaseSucceeded || r.Reason != "" || r.Owner != owner {
		t.Errorf("release %+v, want 1 dev/east %s succeeded by %s", r, snapID, owner)
	}
	if r.Started.Before(before) || r.Finished.Before(r.Started) {
		t.Errorf("release started %s finished %s", r.Started, r.Finished)
	}

	evs := events(t, st)
	checkEvents(t, evs, 1, store.EventDeployStarted, store.EventDeploySucceeded)
	if want := "release 1 of snapshot eeeeeeeeeeee started: "; !strings.HasPrefix(evs[0].Message, want) || !strings.Contains(evs[0].Message, "2 create") {
		t.Errorf("started message %q, want %q... with 2 create", evs[0].Message, want)
	}
	if want := "release 1 of snapshot eeeeeeeeeeee succeeded in "; !strings.HasPrefix(evs[1].Message, want) {
		t.Errorf("succeeded message %q, want prefix %q", evs[1].Message, want)
	}
}

func TestDeployFails(t *testing.T) {
	deployErr := &target.DeployError{
		Service: "api", Slot: "1-abcdef01", Reason: "exited with code 1",
		LastLines: []string{"connecting to db", "panic: no route to host"},
	}
	tests := []struct {
		name      string
		err       error
		wantErr   string
		lastLines []string
	}{
		{"an instance to blame", deployErr, "service api (1-abcdef01): exited with code 1", deployErr.LastLines},
		{"wrapped instance error", fmt.Errorf("awaiting api: %w", deployErr), "awaiting api: service api (1-abcdef01): exited with code 1", deployErr.LastLines},
		{"no instance to blame", errors.New("unpacking artifact: disk full"), "unpacking artifact: disk full", nil},
		{"timeout", fmt.Errorf("service db: %w", target.ErrTimeout), "service db: timed out", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			tgt := &fakeTarget{apply: func(context.Context, *render.Desired, *plan.Plan, target.ApplyOptions) error { return tt.err }}
			res, err := newDeployer(st).Deploy(context.Background(), tgt, desired(), Options{})
			if err == nil {
				t.Fatal("Deploy succeeded")
			}
			if !errors.Is(err, tt.err) || err.Error() != tt.wantErr {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if res == nil {
				t.Fatal("no result with the error")
			}
			if res.Release != 1 || res.Error != tt.wantErr || !slices.Equal(res.LastLines, tt.lastLines) {
				t.Errorf("result release %d error %q lines %q, want 1 %q %q", res.Release, res.Error, res.LastLines, tt.wantErr, tt.lastLines)
			}
			r, err := st.GetRelease(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if r.Phase != store.PhaseFailed || r.Reason != tt.wantErr || r.Finished.IsZero() {
				t.Errorf("release phase %q reason %q finished %s, want failed %q", r.Phase, r.Reason, r.Finished, tt.wantErr)
			}
			evs := events(t, st)
			checkEvents(t, evs, 1, store.EventDeployStarted, store.EventDeployFailed)
			want := "release 1 of snapshot eeeeeeeeeeee failed: " + tt.wantErr + "; the previous release keeps running"
			if evs[1].Message != want {
				t.Errorf("failed message %q, want %q", evs[1].Message, want)
			}
		})
	}
}

func TestDeployNothingToDo(t *testing.T) {
	st := openStore(t)
	d := desired()
	tgt := &fakeTarget{observe: func(context.Context, render.SiteRef) (*plan.Observed, error) { return runs(d, snapID), nil }}
	var seen *plan.Plan
	res, err := newDeployer(st).Deploy(context.Background(), tgt, d, Options{Plan: func(p *plan.Plan) { seen = p }})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if tgt.applied != 0 {
		t.Errorf("Apply called %d times, want 0", tgt.applied)
	}
	if res.Release != 0 || res.Changed != nil || res.Error != "" {
		t.Errorf("result release %d changed %q error %q, want 0, none, none", res.Release, res.Changed, res.Error)
	}
	if seen == nil || !seen.Empty() || res.Plan != seen.String() {
		t.Errorf("plan %v (empty %v), result plan %q", seen, seen != nil && seen.Empty(), res.Plan)
	}
	if rels := releases(t, st); len(rels) != 0 {
		t.Errorf("%d releases recorded, want none: %+v", len(rels), rels)
	}
	if evs := events(t, st); len(evs) != 0 {
		t.Errorf("%d events recorded, want none: %+v", len(evs), evs)
	}
}

// The same instances under another snapshot ID are not a no-op: the release
// that adopts them is recorded, though nothing starts or stops.
func TestDeployAdoptsUnchangedInstances(t *testing.T) {
	st := openStore(t)
	d := desired()
	tgt := &fakeTarget{observe: func(context.Context, render.SiteRef) (*plan.Observed, error) { return runs(d, oldSnap), nil }}
	res, err := newDeployer(st).Deploy(context.Background(), tgt, d, Options{})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if tgt.applied != 1 || res.Release != 1 || res.Changed != nil {
		t.Errorf("applied %d release %d changed %q, want 1, 1, none", tgt.applied, res.Release, res.Changed)
	}
	if rels := releases(t, st); len(rels) != 1 || rels[0].Phase != store.PhaseSucceeded {
		t.Errorf("releases %+v, want one succeeded", rels)
	}
	checkEvents(t, events(t, st), 1, store.EventDeployStarted, store.EventDeploySucceeded)
	if msg := events(t, st)[0].Message; !strings.Contains(msg, "2 keep") {
		t.Errorf("started message %q, want it to count 2 keep", msg)
	}
}

// The caller going away mid-release does not leave it "progressing".
func TestDeployCancelledStillFinishes(t *testing.T) {
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tgt := &fakeTarget{apply: func(ctx context.Context, _ *render.Desired, _ *plan.Plan, _ target.ApplyOptions) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}}
	res, err := newDeployer(st).Deploy(ctx, tgt, desired(), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if res == nil || res.Release != 1 || res.Error != "context canceled" {
		t.Fatalf("result %+v, want release 1 with error context canceled", res)
	}
	r, gerr := st.GetRelease(context.Background(), 1)
	if gerr != nil {
		t.Fatal(gerr)
	}
	if r.Phase != store.PhaseFailed || r.Reason != "context canceled" || r.Finished.IsZero() {
		t.Errorf("release phase %q reason %q finished %s, want failed, context canceled", r.Phase, r.Reason, r.Finished)
	}
	checkEvents(t, events(t, st), 1, store.EventDeployStarted, store.EventDeployFailed)
}

func TestDeployObserveFails(t *testing.T) {
	st := openStore(t)
	boom := errors.New("engine not answering")
	tgt := &fakeTarget{observe: func(context.Context, render.SiteRef) (*plan.Observed, error) { return nil, boom }}
	res, err := newDeployer(st).Deploy(context.Background(), tgt, desired(), Options{})
	if !errors.Is(err, boom) || err.Error() != "observing dev/east: engine not answering" || res != nil {
		t.Fatalf("Deploy = %+v, %v; want nil, observing dev/east: engine not answering", res, err)
	}
	if tgt.applied != 0 || len(releases(t, st)) != 0 || len(events(t, st)) != 0 {
		t.Errorf("applied %d, %d releases, %d events; want nothing", tgt.applied, len(releases(t, st)), len(events(t, st)))
	}
}

// Events are optional; the release record is not.
func TestDeployWithoutRecorder(t *testing.T) {
	st := openStore(t)
	dp := &Deployer{Store: st, Holder: ownerHolder}
	if _, err := dp.Deploy(context.Background(), &fakeTarget{}, desired(), Options{}); err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if rels := releases(t, st); len(rels) != 1 || rels[0].Phase != store.PhaseSucceeded {
		t.Errorf("releases %+v, want one succeeded", rels)
	}
	if evs := events(t, st); len(evs) != 0 {
		t.Errorf("%d events, want none", len(evs))
	}
}

// ownerHolder is the deployer's lease holder (its String is owner).
var ownerHolder = store.Holder{Host: "host", PID: 12345, Instance: "deployer"}

func TestRecover(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	create := func(site string, owner store.Holder, phase store.Phase, snap string) store.Release {
		t.Helper()
		r, err := st.CreateRelease(ctx, store.Release{
			Env: "dev", Site: site, Snapshot: snap, Phase: store.PhaseProgressing,
			Started: time.Now().UTC(), Owner: owner.String(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if phase != store.PhaseProgressing {
			if err := st.FinishRelease(ctx, r.ID, phase, "", time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	dead := store.Holder{Host: "gone", PID: 999999, Instance: "dead"}
	live := store.Holder{Host: "here", PID: 4242, Instance: "live"}
	// dead's lease on east lapsed a minute ago; live renews its lease on west.
	if _, err := st.AcquireLease(ctx, lease.DeployName("dev", "east"), dead, time.Now().Add(-time.Minute), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AcquireLease(ctx, lease.DeployName("dev", "west"), live, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	deadRel := create("east", dead, store.PhaseProgressing, snapID) // 1: to close
	liveRel := create("west", live, store.PhaseProgressing, snapID) // 2: still being made
	doneRel := create("north", dead, store.PhaseSucceeded, oldSnap) // 3: finished long ago

	closed, err := Recover(ctx, st, &Recorder{Store: st})
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	const reason = "interrupted: the ladder process making it (pid 999999 on gone) stopped before it finished, and its lease expired"
	if len(closed) != 1 || closed[0].ID != deadRel.ID || closed[0].Phase != store.PhaseInterrupted || closed[0].Reason != reason {
		t.Fatalf("closed %+v, want release %d interrupted with %q", closed, deadRel.ID, reason)
	}
	want := map[int64]store.Phase{deadRel.ID: store.PhaseInterrupted, liveRel.ID: store.PhaseProgressing, doneRel.ID: store.PhaseSucceeded}
	for id, phase := range want {
		r, err := st.GetRelease(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Phase != phase {
			t.Errorf("release %d is %s, want %s", id, r.Phase, phase)
		}
		if id == deadRel.ID && (r.Reason != reason || r.Finished.IsZero()) {
			t.Errorf("release %d reason %q finished %s, want %q and a time", id, r.Reason, r.Finished, reason)
		}
	}
	// The transition is recorded, and recovery left the lease free.
	trs, err := st.ReleaseTransitions(ctx, deadRel.ID)
	if err != nil || len(trs) != 1 || trs[0].To != store.PhaseInterrupted {
		t.Errorf("transitions of the recovered release: %+v, %v", trs, err)
	}
	if l, err := st.GetLease(ctx, lease.DeployName("dev", "east")); err != nil || l.Live(time.Now()) {
		t.Errorf("east's lease after recovery: %+v, %v; want free", l, err)
	}
	evs := events(t, st)
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1: %+v", len(evs), evs)
	}
	e := evs[0]
	wantMsg := "release 1 of snapshot eeeeeeeeeeee was " + reason
	if e.Kind != store.EventDeployRecovered || e.Env != "dev" || e.Site != "east" || e.Snapshot != snapID || e.Message != wantMsg {
		t.Errorf("event %+v, want %s about dev/east %s: %q", e, store.EventDeployRecovered, snapID, wantMsg)
	}

	// Recovering again finds nothing more to close.
	again, err := Recover(ctx, st, &Recorder{Store: st})
	if err != nil || len(again) != 0 {
		t.Errorf("second Recover = %+v, %v; want nothing", again, err)
	}
	if n := len(events(t, st)); n != 1 {
		t.Errorf("%d events after the second Recover, want 1", n)
	}
}

func TestRecoverWithoutRecorder(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	if _, err := st.CreateRelease(ctx, store.Release{Env: "dev", Site: "east", Snapshot: snapID, Phase: store.PhaseProgressing, Owner: "gone/999999/dead"}); err != nil {
		t.Fatal(err)
	}
	closed, err := Recover(ctx, st, nil)
	if err != nil || len(closed) != 1 {
		t.Fatalf("Recover = %+v, %v; want one release closed", closed, err)
	}
	if evs := events(t, st); len(evs) != 0 {
		t.Errorf("%d events, want none", len(evs))
	}
}

func TestDeployRecordsJobRuns(t *testing.T) {
	withJob := func() *render.Desired {
		d := desired()
		job := render.Service{Name: "migrate", Digest: digest("3"), Entrypoint: []string{"/migrate"}, Replicas: 1, Restart: "no", Job: "migration"}
		job.Config = render.ConfigHash(job)
		d.Services = append([]render.Service{job}, d.Services...)
		return d
	}
	tests := []struct {
		name    string
		err     error
		outcome string
	}{
		{name: "succeeded"},
		{name: "the job failed", err: &target.DeployError{Service: "migrate", Slot: "1-x", Reason: "exited with code 3"}, outcome: "failed"},
		{name: "another service failed", err: &target.DeployError{Service: "api", Slot: "1-y", Reason: "exited with code 1"}, outcome: "not finished: the release failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			tgt := &fakeTarget{apply: func(context.Context, *render.Desired, *plan.Plan, target.ApplyOptions) error { return tt.err }}
			d := withJob()
			_, _ = newDeployer(st).Deploy(context.Background(), tgt, d, Options{})
			jobs, err := st.ListJobs(context.Background(), "dev", 0)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.outcome
			if want == "" {
				want = "succeeded"
			}
			if len(jobs) != 1 || jobs[0].Job != "migrate" || jobs[0].Snapshot != d.Snapshot || jobs[0].Digest != digest("3") || jobs[0].Outcome != want || jobs[0].Site != "east" {
				t.Fatalf("job runs %+v, want one run of migrate %s", jobs, want)
			}
		})
	}
	// A job that already ran with this configuration is not run again, so
	// nothing new is recorded.
	st := openStore(t)
	d := withJob()
	obs := runs(d, snapID)
	obs.Instances[0].State, obs.Instances[0].ExitCode = plan.StateExited, 0
	tgt := &fakeTarget{observe: func(context.Context, render.SiteRef) (*plan.Observed, error) { return obs, nil }}
	if _, err := newDeployer(st).Deploy(context.Background(), tgt, d, Options{}); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := st.ListJobs(context.Background(), "", 0); len(jobs) != 0 {
		t.Errorf("a job that already ran was recorded again: %+v", jobs)
	}
}

func TestDeployIsAudited(t *testing.T) {
	for _, tt := range []struct {
		name    string
		err     error
		outcome string
	}{
		{name: "succeeded", outcome: "succeeded"},
		{name: "failed", err: &target.DeployError{Service: "api", Reason: "exited with code 1"}, outcome: "failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			tgt := &fakeTarget{apply: func(context.Context, *render.Desired, *plan.Plan, target.ApplyOptions) error { return tt.err }}
			d := desired()
			_, _ = newDeployer(st).Deploy(context.Background(), tgt, d, Options{By: "ana"})
			entries, err := st.ListAudit(context.Background(), store.AuditFilter{Action: "deploy"})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Actor != "ana" || entries[0].Outcome != tt.outcome ||
				entries[0].Env != "dev" || entries[0].Site != "east" || entries[0].Snapshot != d.Snapshot {
				t.Fatalf("audit %+v, want one %s deploy by ana of %s on dev/east", entries, tt.outcome, d.Snapshot)
			}
		})
	}
}

// TestDeployRecordsWhereTheSiteRuns: a release records the kind and the
// engine its site's target says it runs on, so that later commands about
// the site go there.
func TestDeployRecordsWhereTheSiteRuns(t *testing.T) {
	st := openStore(t)
	d := desired()
	sites := target.NewSites()
	sites.Add(d.Site, &fakeTarget{}, target.Location{Kind: "compose", Engine: "tcp://10.0.0.5:2376"})
	if _, err := newDeployer(st).Deploy(t.Context(), sites, d, Options{}); err != nil {
		t.Fatal(err)
	}
	rels := releases(t, st)
	if len(rels) != 1 || rels[0].Target != "compose" || rels[0].Engine != "tcp://10.0.0.5:2376" {
		t.Errorf("releases %+v, want one on compose at tcp://10.0.0.5:2376", rels)
	}
	// A target that cannot say records its kind, and no engine.
	st2 := openStore(t)
	if _, err := newDeployer(st2).Deploy(t.Context(), &fakeTarget{}, desired(), Options{}); err != nil {
		t.Fatal(err)
	}
	if rels := releases(t, st2); len(rels) != 1 || rels[0].Target != "fake" || rels[0].Engine != "" {
		t.Errorf("releases %+v, want one on fake with no engine", rels)
	}
}
