package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/registry"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/target/compose"
)

// checkPull validates --pull.
func checkPull(pull string) error {
	if pull != "" && !slices.Contains(build.PullPolicies, pull) {
		return exitf(ExitConfig, "--pull %q: want always, missing or never", pull)
	}
	return nil
}

// pinOptions are the options that pin the stack's images for `up`.
func (a *app) pinOptions(ws *workspace, pull string) build.PinOptions {
	o := build.PinOptions{Pull: pull, CheckRegistry: true}
	if ws.docker != nil {
		o.Engine = ws.docker
	}
	return o
}

// engineAnswers reports whether the Docker engine answers, and if not why.
func engineAnswers(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := compose.Connect(pctx)
	if err != nil {
		return err
	}
	c.Close()
	return nil
}

// refuseContainersWithoutEngine refuses a stack on the process target
// whose services are not all static binaries when no Docker engine
// answers: the process target runs those in the engine. Each service is
// reported at its position (exit 2).
func refuseContainersWithoutEngine(ctx context.Context, p *spec.Project, env string) error {
	names := build.ContainerServices(p.Stack)
	if len(names) == 0 {
		return nil
	}
	err := engineAnswers(ctx)
	if err == nil {
		return nil
	}
	images := build.ImageServices(p.Stack)
	var ds spec.Diagnostics
	for _, name := range names {
		why := "its Dockerfile does not build a static binary FROM scratch"
		if slices.Contains(images, name) {
			why = "it runs an image (image: without build:)"
		}
		pos := p.StackPos("services", name)
		ds = append(ds, spec.Diagnostic{File: pos.File, Line: pos.Line, Col: pos.Col, Path: pos.Path,
			Message: fmt.Sprintf("%s runs on the process target, which runs this service in the Docker engine because %s, and no engine answers (%s): start one (or set DOCKER_HOST), or use --target compose where one runs", env, why, shortErr(err))})
	}
	ds.Sort()
	return &ExitError{Code: ExitConfig, Err: ds}
}

// refuseImagesOn refuses an up on the process target (the one this
// command settled on, or the one the running agent uses) of a stack with
// services for the engine when no engine answers.
func (a *app) refuseImagesOn(ctx context.Context, ws *workspace, env string, c *agent.Client, running bool) error {
	kind := a.target
	if running {
		kind = c.Info.Target
	}
	if kind == "process" {
		return refuseContainersWithoutEngine(ctx, ws.project, env)
	}
	return nil
}

// refuseImagesOnRung refuses to deploy a snapshot with pinned images to a
// rung that runs on the process target (its running agent's, or the one
// it would start with) when no engine answers to run them in.
func (a *app) refuseImagesOnRung(ctx context.Context, ws *workspace, env, id string) error {
	snap, err := ws.store.GetSnapshot(ctx, id)
	if err != nil {
		return nil // the deploy reports it
	}
	var names []string
	for _, svc := range snap.Services() {
		if snap.Artifacts[svc].Image != "" {
			names = append(names, svc)
		}
	}
	if len(names) == 0 {
		return nil
	}
	kind := ""
	if c, ok := agent.Find(ctx, ws.stateDir, env); ok {
		kind = c.Info.Target
	} else if kind, err = a.targetKind(ctx, ws, env); err != nil {
		return err
	}
	if kind != "process" {
		return nil
	}
	eerr := engineAnswers(ctx)
	if eerr == nil {
		return nil
	}
	return &ExitError{Code: ExitConfig,
		Err: fmt.Errorf("%s runs on the process target, and services %s of snapshot %s run an image (image: without build:), which runs in the Docker engine, and no engine answers (%s)",
			env, strings.Join(names, ", "), snapshot.Short(id), shortErr(eerr)),
		Hint: "start a Docker engine (or set DOCKER_HOST) for " + env}
}

// imageErr gives image problems the user fixes (not found, unauthorized,
// forbidden by the pull policy) exit code 2 and their hint.
func imageErr(err error) error {
	var ie *build.ImageError
	if errors.As(err, &ie) {
		return &ExitError{Code: ExitConfig, Err: err, Hint: ie.Hint}
	}
	return err
}

// processTargetEnvs returns the environments that are set to run on the
// process target (in ladder.yaml, or LADDER_TARGET for all).
func processTargetEnvs(p *spec.Project) []string {
	var envs []string
	for _, e := range p.Ladder.Environments {
		kind := os.Getenv("LADDER_TARGET")
		if kind == "" {
			kind = e.Target
		}
		if kind == "process" && !e.Template {
			envs = append(envs, e.Name)
		}
	}
	return envs
}

// printMoved says which tags point elsewhere than they were pinned.
func (p *printer) moved(report *build.Report) {
	for _, m := range report.Moved {
		if m.Followed {
			p.printf("  ! %-16s %s moved: it was %s, now %s in the %s; this snapshot takes the new image\n",
				m.Service, m.Tag, snapshot.Short(m.Pinned), snapshot.Short(m.Now), m.Where)
			continue
		}
		p.printf("  ! %-16s %s now points at another image in the %s (%s); the snapshot keeps %s (ladder up --pull always takes the new one)\n",
			m.Service, m.Tag, m.Where, snapshot.Short(m.Now), snapshot.Short(m.Pinned))
	}
}

// registryAuth returns the engine's X-Registry-Auth value for a registry
// host, from the user's Docker credentials; "" pulls anonymously.
func registryAuth(host string) string {
	reg, err := name.NewRegistry(host)
	if err != nil {
		return ""
	}
	auth, err := authn.DefaultKeychain.Resolve(reg)
	if err != nil || auth == authn.Anonymous {
		return ""
	}
	cfg, err := auth.Authorization()
	if err != nil {
		return ""
	}
	enc, err := registry.EncodeAuthConfig(registry.AuthConfig{
		Username: cfg.Username, Password: cfg.Password, Auth: cfg.Auth,
		IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken, ServerAddress: host,
	})
	if err != nil {
		return ""
	}
	return enc
}

// pushImages is the promoter's Push: the snapshot's images to env's
// registry, with progress on the terminal.
func (a *app) pushImages(ws *workspace) func(ctx context.Context, env *spec.Environment, s *snapshot.Snapshot) error {
	return func(ctx context.Context, env *spec.Environment, s *snapshot.Snapshot) error {
		out := &printer{w: a.Out, quiet: a.json()}
		out.printf("pushing snapshot %s to %s\n", snapshot.Short(s.ID), env.Registry.Address)
		b := ws.newBuilder(out.build)
		return b.Push(ctx, s, build.Registry{Address: env.Registry.Address, Insecure: env.Registry.Insecure}, nil)
	}
}

func buildRegistry(e *spec.Environment) build.Registry {
	if e == nil || e.Registry == nil {
		return build.Registry{}
	}
	return build.Registry{Address: e.Registry.Address, Insecure: e.Registry.Insecure}
}
