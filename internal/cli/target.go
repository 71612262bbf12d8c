package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/target/compose"
	"github.com/ladderhq/ladder/internal/target/hybrid"
	"github.com/ladderhq/ladder/internal/target/process"
)

// targetKind resolves an environment's target: --target, then the
// LADDER_TARGET environment variable, then ladder.yaml,
// and "auto" means compose when a Docker engine answers, else process
// (said in one line, so nobody wonders where their stack runs). A site
// that names its own kind in ladder.yaml runs on it whatever this says
// (see siteKind).
func (a *app) targetKind(ctx context.Context, ws *workspace, env string) (string, error) {
	kind := a.target
	if kind == "" {
		kind = os.Getenv("LADDER_TARGET")
	}
	if kind == "" {
		e, _ := ws.project.Ladder.Environment(env)
		kind = e.Target
	}
	switch kind {
	case spec.KindProcess, spec.KindCompose, spec.KindHybrid:
		return kind, nil
	case "", "auto":
		return a.autoKind(ctx, target.Engine{}, env), nil
	}
	return "", exitf(ExitConfig, "unknown target %q: want auto, process, compose or hybrid", kind)
}

// autoKind is compose when engine answers, else process.
func (a *app) autoKind(ctx context.Context, engine target.Engine, where string) string {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := compose.Dial(pctx, engine)
	if err != nil {
		if !a.json() {
			fmt.Fprintf(a.Err, "no Docker engine answers (%v): %s runs on the process target\n", shortErr(err), where)
		}
		return spec.KindProcess
	}
	c.Close()
	return spec.KindCompose
}

func shortErr(err error) string {
	if ue, ok := err.(*compose.UnreachableError); ok {
		if ue.Site {
			return ue.Host
		}
		return fmt.Sprintf("DOCKER_HOST %s", ue.Host)
	}
	return err.Error()
}

// siteEngine is the engine site s names in ladder.yaml, with its TLS
// files made absolute (relative to ladder.yaml); the zero Engine when it
// names none.
func siteEngine(ws *workspace, s spec.Site) target.Engine {
	c := s.Target.Docker
	if c == nil {
		return target.Engine{}
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(ws.project.Dir, p)
	}
	e := target.Engine{Host: c.Host, Insecure: c.Insecure}
	if c.TLS != nil {
		e.CA, e.Cert, e.Key = abs(c.TLS.CA), abs(c.TLS.Cert), abs(c.TLS.Key)
	}
	return e
}

// siteKind is the kind site s of env runs on in a new release: the
// site's own kind in ladder.yaml, else the environment's (targetKind),
// where "auto" asks the site's engine.
func (a *app) siteKind(ctx context.Context, ws *workspace, e *spec.Environment, s spec.Site) (string, error) {
	if s.Target.Kind != "" {
		return s.Target.Kind, nil
	}
	if s.Target.Docker != nil && a.target == "" && os.Getenv("LADDER_TARGET") == "" && (e.Target == "" || e.Target == "auto") {
		return a.autoKind(ctx, siteEngine(ws, s), fmt.Sprintf("%s/%s", e.Name, s.Name)), nil
	}
	return a.targetKind(ctx, ws, e.Name)
}

// placement is where one site runs: its kind and engine.
type placement struct {
	kind   string
	engine target.Engine
}

// recordedPlacement is where site s of env ran in its newest release
// that recorded it (a successful one first), so that logs, drift, status
// and down look where the site actually is, whatever engine answers
// today; ok is false when no release recorded it. The TLS files of the
// recorded engine come from ladder.yaml when the site still names that
// engine there.
func (a *app) recordedPlacement(ctx context.Context, ws *workspace, env string, s spec.Site) (placement, bool, error) {
	for _, f := range []store.ReleaseFilter{{Env: env, Site: s.Name, Phase: store.PhaseSucceeded}, {Env: env, Site: s.Name}} {
		rels, err := ws.store.ListReleases(ctx, f)
		if err != nil {
			return placement{}, false, err
		}
		for _, r := range rels {
			if r.Target == "" {
				continue
			}
			p := placement{kind: r.Target, engine: siteEngine(ws, s)}
			if r.Engine != "" && r.Engine != compose.HostOf(p.engine) {
				p.engine = target.Engine{Host: r.Engine}
			}
			return p, true, nil
		}
	}
	return placement{}, false, nil
}

// sitePlacements are where each site of env runs: recorded ones where
// asked for and known, the configured ones otherwise.
func (a *app) sitePlacements(ctx context.Context, ws *workspace, env string, recorded bool) (map[string]placement, error) {
	e, err := ws.environment(env)
	if err != nil {
		return nil, err
	}
	out := map[string]placement{}
	envKind := "" // targetKind, asked once for the sites that use it
	for _, s := range e.Sites {
		if recorded {
			p, ok, err := a.recordedPlacement(ctx, ws, e.Name, s)
			if err != nil {
				return nil, err
			}
			if ok {
				out[s.Name] = p
				continue
			}
		}
		var kind string
		if s.Target == (spec.SiteTarget{}) && envKind != "" {
			kind = envKind
		} else if kind, err = a.siteKind(ctx, ws, e, s); err != nil {
			return nil, err
		}
		if s.Target == (spec.SiteTarget{}) {
			envKind = kind
		}
		out[s.Name] = placement{kind: kind, engine: siteEngine(ws, s)}
	}
	return out, nil
}

// siteTarget builds the targets env's sites run on now (where their
// releases recorded), for commands that look at what runs rather than
// deploy.
func (a *app) siteTarget(ctx context.Context, ws *workspace, env string) (*target.Sites, error) {
	places, err := a.sitePlacements(ctx, ws, env, true)
	if err != nil {
		return nil, err
	}
	return a.buildSites(ctx, ws, env, places, "", nil)
}

// newTarget builds the targets of an environment's sites for a deploy.
func (a *app) newTarget(ctx context.Context, ws *workspace, env, owner string, rec *deploy.Recorder) (*target.Sites, error) {
	places, err := a.sitePlacements(ctx, ws, env, false)
	if err != nil {
		return nil, err
	}
	return a.buildSites(ctx, ws, env, places, owner, rec)
}

// buildSites makes one target per site through the registry; sites of
// one kind on one engine share it.
func (a *app) buildSites(ctx context.Context, ws *workspace, env string, places map[string]placement, owner string, rec *deploy.Recorder) (*target.Sites, error) {
	reg, err := a.registry(ws, env, owner, rec)
	if err != nil {
		return nil, err
	}
	e, err := ws.environment(env)
	if err != nil {
		return nil, err
	}
	out := target.NewSites()
	shared := map[string]target.Target{}
	for _, s := range e.Sites {
		p, ok := places[s.Name]
		if !ok {
			continue
		}
		kind, ok := reg.Lookup(p.kind)
		if !ok {
			return nil, exitf(ExitConfig, "%s/%s: unknown target %q: this ladder runs %v", env, s.Name, p.kind, reg.Names())
		}
		loc := target.Location{Kind: p.kind}
		if kind.UsesEngine {
			loc.Engine = compose.HostOf(p.engine)
		}
		key := p.kind + "|" + loc.Engine
		tgt, ok := shared[key]
		if !ok {
			tgt, err = reg.New(ctx, target.Site{Ref: render.SiteRef{Env: env, Site: s.Name}, Kind: p.kind, Engine: p.engine})
			if err != nil {
				var ee *ExitError
				if errors.As(err, &ee) {
					return nil, err
				}
				return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s/%s: %w", env, s.Name, err)}
			}
			shared[key] = tgt
		}
		out.Add(s.Name, tgt, loc, kind.Caps...)
	}
	return out, nil
}

// registry is the kinds of target this ladder runs, with factories over
// ws. The process targets of one registry share one process supervisor.
func (a *app) registry(ws *workspace, env, owner string, rec *deploy.Recorder) (*target.Registry, error) {
	var events func(store.Event)
	if rec != nil {
		events = rec.Record
	}
	e, _ := ws.project.Ladder.Environment(env)
	composeTarget := func(eng compose.Engine) *compose.Target {
		return compose.New(compose.Options{
			Engine: eng, Stack: ws.project.Stack.Name, Images: ws.builder.Image,
			Registry: buildRegistry(e), RegistryAuth: registryAuth,
			WorkingDir: ws.project.Dir, ConfigFile: ws.project.Stack.File,
			ComposeDir: filepath.Join(ws.stateDir, "compose"),
			Events:     events, Logger: a.logger(),
		})
	}
	var procs *process.Target
	native := func(ctx context.Context, site target.Site) (target.Target, error) {
		if procs == nil {
			procs = process.New(process.Options{
				StateDir: ws.stateDir,
				Rootfs: func(ctx context.Context, digest string) (string, error) {
					dir, _, err := ws.builder.Rootfs(ctx, digest)
					return dir, err
				},
				Store: ws.store, Owner: owner, Events: events, Logger: a.logger(),
				Redact: ws.redactor.Redact,
			})
		}
		// Static binaries run as processes; the rest in the site's engine.
		return hybrid.New(hybrid.Options{
			Process: procs,
			Engine: func(ctx context.Context) (*compose.Target, error) {
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				eng, err := compose.Dial(pctx, site.Engine)
				if err != nil {
					return nil, err
				}
				return composeTarget(eng), nil
			},
			Native: func(_ context.Context, svc render.Service) (bool, error) {
				return ws.builder.IsStaticBinary(svc.Digest)
			},
			Logger: a.logger(),
		}), nil
	}
	all := []target.Capability{target.CapInspect, target.CapWatch, target.CapLogs, target.CapDrift}
	return a.withKinds(
		target.Kind{Name: spec.KindCompose, Caps: all, UsesEngine: true,
			New: func(ctx context.Context, site target.Site) (target.Target, error) {
				eng, err := compose.Dial(ctx, site.Engine)
				if err != nil {
					return nil, err
				}
				return composeTarget(eng), nil
			}},
		// process and hybrid are one runtime: static binaries as local
		// processes, other services in the site's engine. "hybrid" names
		// it for stacks meant to mix the two.
		target.Kind{Name: spec.KindProcess, Caps: all, UsesEngine: true, New: native},
		target.Kind{Name: spec.KindHybrid, Caps: all, UsesEngine: true, New: native},
	)
}

// withKinds is the registry of the built-in kinds, each replaced by the
// kind of the same name in IO.Kinds, and IO.Kinds' other kinds.
func (a *app) withKinds(builtin ...target.Kind) (*target.Registry, error) {
	kinds := make([]target.Kind, 0, len(builtin)+len(a.Kinds))
	for _, k := range builtin {
		if i := slices.IndexFunc(a.Kinds, func(o target.Kind) bool { return o.Name == k.Name }); i >= 0 {
			k = a.Kinds[i]
		}
		kinds = append(kinds, k)
	}
	for _, k := range a.Kinds {
		if !slices.ContainsFunc(builtin, func(b target.Kind) bool { return b.Name == k.Name }) {
			kinds = append(kinds, k)
		}
	}
	return target.NewRegistry(kinds...)
}
