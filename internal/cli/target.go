package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/deploy"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/target/compose"
	"github.com/ladderhq/ladder/internal/target/hybrid"
	"github.com/ladderhq/ladder/internal/target/process"
)

// targetKind resolves an environment's target: --target, then the
// LADDER_TARGET environment variable, then ladder.yaml,
// and "auto" means compose when a Docker engine answers, else process
// (said in one line, so nobody wonders where their stack runs).
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
	case "process", "compose":
		return kind, nil
	case "", "auto":
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		c, err := compose.Connect(pctx)
		if err != nil {
			if !a.json() {
				fmt.Fprintf(a.Err, "no Docker engine answers (%v): %s runs on the process target\n", shortErr(err), env)
			}
			return "process", nil
		}
		c.Close()
		return "compose", nil
	}
	return "", exitf(ExitConfig, "unknown target %q: want auto, process or compose", kind)
}

func shortErr(err error) string {
	if ue, ok := err.(*compose.UnreachableError); ok {
		return fmt.Sprintf("DOCKER_HOST %s", ue.Host)
	}
	return err.Error()
}

// siteTargetKind is the target kind an environment's sites run on now:
// the one recorded with its newest successful release (or, lacking one,
// its newest release), so that logs, drift and down look where the
// stack actually is, whatever engine happens to answer today. Only an
// environment with no release recorded with a target falls back to
// targetKind. recorded says which it was.
func (a *app) siteTargetKind(ctx context.Context, ws *workspace, env string) (kind string, recorded bool, err error) {
	for _, f := range []store.ReleaseFilter{{Env: env, Phase: store.PhaseSucceeded}, {Env: env}} {
		rels, err := ws.store.ListReleases(ctx, f)
		if err != nil {
			return "", false, err
		}
		for _, r := range rels {
			if r.Target != "" {
				return r.Target, true, nil
			}
		}
	}
	kind, err = a.targetKind(ctx, ws, env)
	return kind, false, err
}

// siteTarget builds the target env's sites run on (see siteTargetKind),
// for commands that look at what runs rather than deploy.
func (a *app) siteTarget(ctx context.Context, ws *workspace, env string) (target.Target, error) {
	kind, _, err := a.siteTargetKind(ctx, ws, env)
	if err != nil {
		return nil, err
	}
	return a.targetOfKind(ctx, ws, env, kind, "", nil)
}

// newTarget builds the target of an environment for a deploy.
func (a *app) newTarget(ctx context.Context, ws *workspace, env, owner string, rec *deploy.Recorder) (target.Target, error) {
	kind, err := a.targetKind(ctx, ws, env)
	if err != nil {
		return nil, err
	}
	return a.targetOfKind(ctx, ws, env, kind, owner, rec)
}

func (a *app) targetOfKind(ctx context.Context, ws *workspace, env, kind, owner string, rec *deploy.Recorder) (target.Target, error) {
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
	switch kind {
	case "compose":
		eng, err := compose.Connect(ctx)
		if err != nil {
			return nil, &ExitError{Code: ExitFailure, Err: err}
		}
		return composeTarget(eng), nil
	case "process":
		// Static binaries run as processes; the rest in the engine.
		return hybrid.New(hybrid.Options{
			Process: process.New(process.Options{
				StateDir: ws.stateDir,
				Rootfs: func(ctx context.Context, digest string) (string, error) {
					dir, _, err := ws.builder.Rootfs(ctx, digest)
					return dir, err
				},
				Store: ws.store, Owner: owner, Events: events, Logger: a.logger(),
				Redact: ws.redactor.Redact,
			}),
			Engine: func(ctx context.Context) (*compose.Target, error) {
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				eng, err := compose.Connect(pctx)
				if err != nil {
					return nil, err
				}
				return composeTarget(eng), nil
			},
			Native: func(_ context.Context, svc render.Service) (bool, error) {
				img, err := ws.builder.Image(svc.Digest)
				if err != nil {
					return false, err
				}
				return build.StaticBinary(img)
			},
			Logger: a.logger(),
		}), nil
	}
	return nil, exitf(ExitConfig, "unknown target %q: want process or compose", kind)
}
