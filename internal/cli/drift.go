package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/secrets"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/target"
)

// ExitDrift is `ladder drift`'s exit code when a site differs from its
// last release.
const ExitDrift = 5

func newDriftCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drift [ENV]",
		Short: "Compare what runs with what should run, field by field",
		Long: `drift renders each site's last successful release (its snapshot with the
environment's values) and compares it with what the runtime actually runs:
missing or stopped containers, another image, command, environment, port,
replica count or label, unhealthy instances. It prints the differences
grouped by service and exits 5 when there are any (0 when none). Secret
values are compared through keyed fingerprints that each release records
(HMAC-SHA256 under .ladder/fingerprint.key), so drift needs no secret key
and shows neither a value nor a fingerprint. ` + "`ladder up`" + ` repairs drift.

With LADDER_SERVER (and LADDER_TOKEN), the ladder server compares its
sites: name the environment; the viewer role there is enough.`,
		Example: `  ladder drift
  ladder drift staging -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			if os.Getenv(EnvServer) != "" {
				return a.remoteDrift(ctx, name)
			}
			ws, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			env, err := ws.environment(name)
			if err != nil {
				return err
			}
			reports, err := a.driftReports(ctx, ws, env.Name)
			if err != nil {
				return err
			}
			return a.showDrift(driftAnswer{Env: env.Name, Reports: reports})
		},
	}
	return cmd
}

// driftAnswer is an environment's drift, as the engine sends it.
type driftAnswer struct {
	Env     string          `json:"env"`
	Reports []*drift.Report `json:"reports"`
}

// showDrift prints d's reports; exit 5 when a site drifted.
func (a *app) showDrift(d driftAnswer) error {
	drifted := false
	for _, r := range d.Reports {
		drifted = drifted || r.Drifted()
	}
	if a.json() {
		reports := d.Reports
		if reports == nil {
			reports = []*drift.Report{}
		}
		if err := a.printJSON(reports); err != nil {
			return err
		}
	} else {
		for _, r := range d.Reports {
			fmt.Fprint(a.Out, r.String())
		}
	}
	if drifted {
		return &ExitError{Code: ExitDrift, Err: fmt.Errorf("%s has drifted", d.Env), Reported: true}
	}
	return nil
}

// remoteDrift asks the ladder server (LADDER_SERVER) for env's drift,
// which it works out where the sites' runtimes are.
func (a *app) remoteDrift(ctx context.Context, env string) error {
	if env == "" {
		return exitf(ExitConfig, "with %s, name the environment: ladder drift ENV", EnvServer)
	}
	c, err := a.thinClient(ctx)
	if err != nil {
		return err
	}
	var d driftAnswer
	if _, err := a.callRead(ctx, c, "/v1/envs/"+url.PathEscape(env)+"/drift", &d); err != nil {
		return err
	}
	return a.showDrift(d)
}

// withFingerprints puts in place of each secret value of d (rendered
// with placeholders) the fingerprint release rel recorded for it, or ""
// when it recorded none, and returns how many had none.
func withFingerprints(d *render.Desired, rel store.Release) (unchecked int) {
	for i := range d.Services {
		svc := &d.Services[i]
		for _, k := range svc.SecretEnv {
			fp, ok := rel.SecretFingerprints[svc.Name+"/"+k]
			if !ok {
				unchecked++
			}
			svc.Environment[k] = fp
		}
	}
	return unchecked
}

// driftReports computes the drift of every site of env from its last
// successful release, read-only, talking to the runtime directly.
func (a *app) driftReports(ctx context.Context, ws *workspace, env string) ([]*drift.Report, error) {
	tgt, err := a.siteTarget(ctx, ws, env)
	if err != nil {
		return nil, err
	}
	e, _ := ws.project.Ladder.Environment(env)
	// Secret values are compared through the keyed fingerprints each
	// release recorded, never loaded here (this machine may not even
	// hold the environment's key) and never shown.
	fp, fpErr := secrets.OpenFingerprinter(ws.stateDir, false)
	var out []*drift.Report
	for _, site := range e.Sites {
		ref := render.SiteRef{Env: env, Site: site.Name}
		if !tgt.Can(site.Name, target.CapDrift) {
			return nil, exitf(ExitConfig, "drift detection needs a runtime ladder can inspect; %s runs on the %s target", ref, tgt.Locate(ref).Kind)
		}
		rels, err := ws.store.ListReleases(ctx, store.ReleaseFilter{Env: env, Site: site.Name, Phase: store.PhaseSucceeded, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(rels) == 0 {
			return nil, &ExitError{Code: ExitNotRunning, Err: fmt.Errorf("%s has no successful release to compare with", ref), Hint: "ladder up"}
		}
		snap, err := ws.store.GetSnapshot(ctx, rels[0].Snapshot)
		if err != nil {
			return nil, err
		}
		rp, err := deploy.ProjectFor(ctx, ws.project, ws.stateDir, a.loadOptions(), snap)
		if err != nil {
			return nil, err
		}
		d, err := render.Render(rp, env, site.Name, snap, render.FromImages(ws.builder.Image))
		if err != nil {
			return nil, fmt.Errorf("rendering snapshot %s for %s: %w", snapshot.Short(snap.ID), ref, err)
		}
		live, err := tgt.Inspect(ctx, ref)
		var ns *target.NotSupportedError
		if errors.As(err, &ns) {
			return nil, &ExitError{Code: ExitConfig, Err: fmt.Errorf("drift detection needs a runtime ladder can inspect: %w", err)}
		}
		if err != nil {
			return nil, fmt.Errorf("inspecting %s%s: %w", ref, onEngine(tgt, ref), err)
		}
		opts := drift.Options{ImageID: render.ImageIDs(ws.builder.Image)}
		if unchecked := withFingerprints(d, rels[0]); unchecked > 0 && !live.Recorded {
			fmt.Fprintf(a.Err, "note: %d secret value(s) of %s not compared: release %d recorded no fingerprint of them; the next release does\n", unchecked, ref, rels[0].ID)
		}
		if fpErr != nil && len(rels[0].SecretFingerprints) > 0 && !live.Recorded {
			fmt.Fprintf(a.Err, "note: secret values of %s not compared: %v\n", ref, fpErr)
		}
		opts.SecretMatch = func(want, have string) (bool, bool) {
			if fp == nil {
				return false, false
			}
			return fp.Match(want, have)
		}
		out = append(out, drift.Compare(d, live, opts))
	}
	return out, nil
}

// onEngine is " on ENGINE" for a site whose target runs on a Docker
// engine, for messages.
func onEngine(tgt *target.Sites, ref render.SiteRef) string {
	if e := tgt.Locate(ref).Engine; e != "" {
		return " on " + e
	}
	return ""
}
