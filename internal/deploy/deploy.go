package deploy

import (
	"context"
	"errors"
	"fmt"
	"github.com/ladderhq/ladder/internal/lease"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/target"
)

// Recorder writes events to the store; a failure to record is logged, not
// fatal, because losing an event must not stop a release half-way.
type Recorder struct {
	Store  store.Store
	Logger *slog.Logger
}

// Record appends e, stamping the time when unset.
func (r *Recorder) Record(e store.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if _, err := r.Store.AppendEvent(context.Background(), e); err != nil && r.Logger != nil {
		r.Logger.Warn("recording event", "kind", e.Kind, "err", err)
	}
}

// Deployer makes releases.
type Deployer struct {
	Store  store.Store
	Events *Recorder
	// Holder identifies this process in release records and holds the
	// site's deploy lease (lease.DeployName) while a release is made;
	// zero means lease.Self().
	Holder store.Holder
	// ImageID maps artifact digests to the image identity the runtime
	// reports, for drift checks (nil: the digest itself).
	ImageID func(digest string) string
	// Fingerprint, when set, makes a keyed fingerprint of a secret value;
	// each release records those of the secrets it injects, so that drift
	// can be checked without the values (see Release.SecretFingerprints).
	Fingerprint func(value string) string
}

// fingerprints are the keyed fingerprints of d's secret values, by
// "service/VARIABLE".
func (dp *Deployer) fingerprints(d *render.Desired) map[string]string {
	if dp.Fingerprint == nil {
		return nil
	}
	out := map[string]string{}
	for _, svc := range d.Services {
		for _, k := range svc.SecretEnv {
			out[svc.Name+"/"+k] = dp.Fingerprint(svc.Environment[k])
		}
	}
	return out
}

// Options tune one deploy.
type Options struct {
	HealthTimeout time.Duration
	Progress      func(target.Progress)
	// Plan, when set, is told of the plan before it runs.
	Plan func(*plan.Plan)
	// By is who asked for the release.
	By string
	// Previous is what the site ran before, when the caller knows it
	// (see target.ApplyOptions.Previous).
	Previous *render.Desired
}

// Deploy brings the site of d to d on tgt. Nothing is recorded when the
// site already runs exactly d. A failed release leaves the previous
// instances serving, is recorded as failed, and returns the error.
func (dp *Deployer) Deploy(ctx context.Context, tgt target.Target, d *render.Desired, opts Options) (*api.DeployResult, error) {
	begun := time.Now()
	res := &api.DeployResult{Environment: d.Env, Site: d.Site, Snapshot: d.Snapshot}
	holder := dp.Holder
	if holder.IsZero() {
		holder = lease.Self()
	}
	// The site's deploy lease: one release at a time per site, across
	// processes and machines. Losing it (this process stalled past its
	// expiry) cancels the release, so it never races the next owner.
	held, err := lease.Acquire(ctx, dp.Store, lease.DeployName(d.Env, d.Site), holder, lease.Options{Wait: lease.Wait})
	if err != nil {
		return nil, fmt.Errorf("deploying to %s: %w", d.SiteRef, err)
	}
	defer held.Release()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(held.Context(), func() { cancel(context.Cause(held.Context())) })
	defer stop()
	// Holding the lease, any release of the site still progressing was
	// orphaned by a holder that stopped renewing: finish it first.
	if _, err := finishOrphans(ctx, dp.Store, dp.Events, d.Env, d.Site); err != nil {
		return nil, err
	}
	// Read the site in full first: a target that caches what it reads
	// then observes from the same reading instead of asking twice.
	var live *drift.Live
	if insp, ok := tgt.(target.Inspector); ok {
		var err error
		var ns *target.NotSupportedError
		if live, err = insp.Inspect(ctx, d.SiteRef); errors.As(err, &ns) {
			// A site of a kind that cannot be inspected, behind
			// target.Sites: observed only.
			live = nil
		} else if err != nil {
			return nil, fmt.Errorf("inspecting %s: %w", d.SiteRef, err)
		}
	}
	obs, err := tgt.Observe(ctx, d.SiteRef)
	if err != nil {
		return nil, fmt.Errorf("observing %s: %w", d.SiteRef, err)
	}
	dp.markDrift(d, obs, live)
	p := plan.Compute(d, obs)
	res.Plan = p.String()
	res.Changed = p.Changed()
	if opts.Plan != nil {
		opts.Plan(p)
	}
	if p.Empty() && slices.Equal(obs.Snapshots(), []string{d.Snapshot}) {
		res.Duration = time.Since(begun)
		return res, nil
	}

	// Where the site runs is part of the record: later commands about
	// the site go there instead of guessing.
	loc := target.Location{Kind: tgt.Kind()}
	if l, ok := tgt.(target.Locator); ok {
		if at := l.Locate(d.SiteRef); at.Kind != "" {
			loc = at
		}
	}
	rel, err := dp.Store.CreateRelease(ctx, store.Release{
		Env: d.Env, Site: d.Site, Snapshot: d.Snapshot,
		Phase: store.PhaseProgressing, Started: time.Now().UTC(), Owner: holder.String(), By: opts.By,
		Target: loc.Kind, Engine: loc.Engine, SecretFingerprints: dp.fingerprints(d),
	})
	if err != nil {
		return nil, fmt.Errorf("recording release: %w", err)
	}
	res.Release, res.Number = rel.ID, rel.Number
	attrs := map[string]string{"release": fmt.Sprint(rel.ID)}
	if pl, ok := tgt.(target.Placer); ok {
		// Where each service runs (native or engine) is part of the record.
		if sides, err := pl.Place(ctx, d); err == nil {
			for svc, side := range sides {
				attrs["runs."+svc] = string(side)
			}
		}
	}
	dp.event(d, store.EventDeployStarted, fmt.Sprintf("release %d of snapshot %s started: %s", rel.ID, snapshot.Short(d.Snapshot), summary(p)), attrs)

	applying := time.Now()
	err = tgt.Apply(ctx, d, p, target.ApplyOptions{HealthTimeout: opts.HealthTimeout, Progress: opts.Progress, Previous: opts.Previous})
	res.Duration = time.Since(begun)
	dp.debug("deployed", "site", d.SiteRef.String(), "release", rel.ID, "prelude", applying.Sub(begun), "apply", time.Since(applying))
	// The outcome is recorded even when ctx was cancelled: the release
	// must not stay "progressing" because its caller went away.
	finishCtx := context.WithoutCancel(ctx)
	if err != nil {
		res.Error = err.Error()
		var de *target.DeployError
		if errors.As(err, &de) {
			res.LastLines = de.LastLines
		}
		if ferr := dp.Store.AdvanceRelease(finishCtx, rel.ID, store.PhaseProgressing, store.PhaseFailed, err.Error(), time.Now().UTC()); ferr != nil {
			err = errors.Join(err, ferr)
		}
		dp.recordJobs(finishCtx, d, p, err)
		dp.audit(finishCtx, d, opts.By, rel.ID, "failed", err.Error())
		dp.event(d, store.EventDeployFailed, fmt.Sprintf("release %d of snapshot %s failed: %v; the previous release keeps running", rel.ID, snapshot.Short(d.Snapshot), res.Error), map[string]string{"release": fmt.Sprint(rel.ID)})
		return res, err
	}
	dp.recordJobs(finishCtx, d, p, nil)
	dp.audit(finishCtx, d, opts.By, rel.ID, "succeeded", summary(p))
	if err := dp.Store.AdvanceRelease(finishCtx, rel.ID, store.PhaseProgressing, store.PhaseSucceeded, "", time.Now().UTC()); err != nil {
		return res, fmt.Errorf("recording release outcome: %w", err)
	}
	dp.event(d, store.EventDeploySucceeded, fmt.Sprintf("release %d of snapshot %s succeeded in %s", rel.ID, snapshot.Short(d.Snapshot), res.Duration.Round(time.Millisecond)), map[string]string{"release": fmt.Sprint(rel.ID)})
	return res, nil
}

// debug logs at debug level through the recorder's logger, if any.
func (dp *Deployer) debug(msg string, args ...any) {
	if dp.Events != nil && dp.Events.Logger != nil {
		dp.Events.Logger.Debug(msg, args...)
	}
}

func (dp *Deployer) event(d *render.Desired, kind store.EventKind, msg string, attrs map[string]string) {
	if dp.Events == nil {
		return
	}
	dp.Events.Record(store.Event{Kind: kind, Env: d.Env, Site: d.Site, Snapshot: d.Snapshot, Message: msg, Attrs: attrs})
}

func summary(p *plan.Plan) string {
	counts := map[plan.Action]int{}
	for _, s := range p.Services {
		counts[s.Action]++
	}
	var parts []string
	for _, a := range []plan.Action{plan.ActionCreate, plan.ActionReplace, plan.ActionScale, plan.ActionRemove, plan.ActionKeep} {
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
		}
	}
	if len(parts) == 0 {
		return "nothing to change"
	}
	return strings.Join(parts, ", ")
}

// markDrift flags the observed instances that differ from what they were
// started as (changed out of band), so the plan replaces them: this is how
// a release repairs drift. Targets that cannot be inspected are trusted.
func (dp *Deployer) markDrift(d *render.Desired, obs *plan.Observed, live *drift.Live) {
	if live == nil {
		return
	}
	rep := drift.Compare(d, live, drift.Options{ImageID: dp.ImageID})
	byInstance := map[string]string{}
	for _, sd := range rep.Services {
		for _, it := range sd.Items {
			switch it.Kind {
			case drift.KindImage, drift.KindEntrypoint, drift.KindCommand, drift.KindEnv, drift.KindPort, drift.KindLabel:
				if it.Instance != "" && byInstance[sd.Service+"/"+it.Instance] == "" {
					byInstance[sd.Service+"/"+it.Instance] = strings.TrimSpace(string(it.Kind) + " " + it.Field)
				}
			}
		}
	}
	for i, in := range obs.Instances {
		if why, ok := byInstance[in.Service+"/"+in.Slot]; ok {
			obs.Instances[i].Drift = why
		}
	}
}

// recordJobs records, per environment, which snapshot each migration or
// seed job of the release ran with, and how it ended: the same jobs run
// the same way on every rung, and this is where that is visible.
func (dp *Deployer) recordJobs(ctx context.Context, d *render.Desired, p *plan.Plan, applyErr error) {
	var de *target.DeployError
	errors.As(applyErr, &de)
	for _, svc := range d.Services {
		sp, ok := p.Service(svc.Name)
		if svc.Job == "" || !ok || len(sp.Start) == 0 {
			continue
		}
		outcome := "succeeded"
		switch {
		case de != nil && de.Service == svc.Name:
			outcome = "failed"
		case applyErr != nil:
			outcome = "not finished: the release failed"
		}
		_ = dp.Store.RecordJob(ctx, store.JobRun{Env: d.Env, Site: d.Site, Job: svc.Name, Snapshot: d.Snapshot, Digest: svc.Digest, Outcome: outcome, At: time.Now().UTC()})
	}
}

// audit records a release in the audit trail: who deployed what, where,
// and how it ended.
func (dp *Deployer) audit(ctx context.Context, d *render.Desired, by string, release int64, outcome, detail string) {
	if by == "" {
		by = "ladder"
	}
	_, _ = dp.Store.Audit(ctx, store.AuditEntry{
		Time: time.Now().UTC(), Actor: by, Action: "deploy", Env: d.Env, Site: d.Site, Snapshot: d.Snapshot,
		Outcome: outcome, Detail: fmt.Sprintf("release %d: %s", release, detail),
	})
}
