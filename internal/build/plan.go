package build

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ladderhq/ladder/internal/spec"
)

// plan turns the services with a build section into jobs, sorted by name.
// Services that cannot be built by this builder get an error instead.
func (b *Builder) plan(stack *spec.Stack) ([]*job, map[string]error) {
	proj := stack.Compose
	base := stackBase(stack)
	names := make([]string, 0, len(proj.Services))
	for name, svc := range proj.Services {
		if svc.Build != nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var jobs []*job
	errs := map[string]error{}
	for _, name := range names {
		svc := proj.Services[name]
		j, err := planService(name, svc, base, proj.Secrets)
		// A BuildKit at an address needs no engine (but for base images).
		if err == nil && j.docker != nil && b.opts.Docker == nil && (b.opts.BuildKitHost == "" || b.opts.BuildKitHost == BuildKitClassic) {
			err = fmt.Errorf("service %q: %w, and none is configured: Options.Docker is nil "+
				"(NewDockerClient connects to the engine DOCKER_HOST names; %s)", name, ErrDockerfile, dockerHost())
		}
		if err != nil {
			errs[name] = err
			continue
		}
		jobs = append(jobs, j)
	}
	return jobs, errs
}

func planService(name string, svc types.ServiceConfig, base string, secrets types.Secrets) (*job, error) {
	bc := svc.Build
	ctxDir := bc.Context
	if strings.Contains(ctxDir, "://") || strings.HasPrefix(ctxDir, "git@") {
		return nil, fmt.Errorf("service %q: remote build context %q is not supported; use a local directory", name, ctxDir)
	}
	if ctxDir == "" {
		ctxDir = "."
	}
	if !filepath.IsAbs(ctxDir) {
		ctxDir = filepath.Join(base, ctxDir)
	}
	ctxDir, err := filepath.Abs(ctxDir)
	if err != nil {
		return nil, fmt.Errorf("service %q: build context: %w", name, err)
	}
	if fi, err := os.Stat(ctxDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("service %q: build context %s is not a directory", name, ctxDir)
	}
	j := &job{service: name, context: ctxDir, ports: exposedPorts(svc.Ports), labels: map[string]string(bc.Labels)}
	if isDockerfileBuild(bc, ctxDir) {
		if j.docker, err = planDockerfile(name, bc, ctxDir, base, secrets); err != nil {
			return nil, err
		}
	} else if field := dockerfileOnlyField(bc); field != "" {
		dir := ctxDir
		if rel, err := filepath.Rel(base, ctxDir); err == nil && !strings.HasPrefix(rel, "..") {
			dir = "./" + filepath.ToSlash(rel)
		}
		return nil, &ConfigError{Err: &goBuildFieldError{service: name, field: field, dir: dir}}
	}
	return j, nil
}

// dockerfileOnly are the build fields only a Dockerfile build reads, in
// the order they are reported.
var dockerfileOnly = []struct {
	field string
	set   func(*types.BuildConfig) bool
}{
	{"args", func(bc *types.BuildConfig) bool { return len(bc.Args) > 0 }},
	{"target", func(bc *types.BuildConfig) bool { return bc.Target != "" }},
	{"secrets", func(bc *types.BuildConfig) bool { return len(bc.Secrets) > 0 }},
	{"ssh", func(bc *types.BuildConfig) bool { return len(bc.SSH) > 0 }},
	{"extra_hosts", func(bc *types.BuildConfig) bool { return len(bc.ExtraHosts) > 0 }},
}

// dockerfileOnlyField names the first Dockerfile-only field bc sets, or "".
func dockerfileOnlyField(bc *types.BuildConfig) string {
	for _, f := range dockerfileOnly {
		if f.set(bc) {
			return f.field
		}
	}
	return ""
}

// goBuildFieldError is a Go build (a context without a Dockerfile) that
// sets a field only a Dockerfile build reads.
type goBuildFieldError struct {
	service, field, dir string
}

func (e *goBuildFieldError) Error() string {
	return fmt.Sprintf("service %q: %s", e.service, e.problem())
}

// problem is the error without the service, as validate shows it at the
// field's position.
func (e *goBuildFieldError) problem() string {
	return fmt.Sprintf("build.%s applies to Dockerfile builds, and %s has no Dockerfile, so ladder builds it as a Go main package: "+
		"add a Dockerfile, or remove build.%s", e.field, e.dir, e.field)
}

// GoBuildProblems are the services whose build ladder makes from Go
// sources yet which set a field only a Dockerfile build reads, by service:
// the field and what is wrong. validate reports them where the build
// would refuse them.
func GoBuildProblems(stack *spec.Stack) map[string][2]string {
	if stack == nil || stack.Compose == nil {
		return nil
	}
	base := stackBase(stack)
	out := map[string][2]string{}
	for name, svc := range stack.Compose.Services {
		if svc.Build == nil {
			continue
		}
		var fe *goBuildFieldError
		if _, err := planService(name, svc, base, stack.Compose.Secrets); errors.As(err, &fe) {
			out[name] = [2]string{fe.field, fe.problem()}
		}
	}
	return out
}

// stackBase is the directory a stack's relative paths start from.
func stackBase(stack *spec.Stack) string {
	if base := stack.Compose.WorkingDir; base != "" || stack.File == "" {
		return base
	}
	return filepath.Dir(stack.File)
}

// isDockerfileBuild reports whether a build section asks for a Dockerfile.
// compose-go fills in dockerfile: Dockerfile when none is written, so that
// default name only counts when the file exists; any other name, or an
// inline Dockerfile, is an explicit request.
func isDockerfileBuild(bc *types.BuildConfig, dir string) bool {
	if bc.DockerfileInline != "" {
		return true
	}
	if bc.Dockerfile != "" && bc.Dockerfile != "Dockerfile" {
		return true
	}
	_, err := os.Stat(filepath.Join(dir, "Dockerfile"))
	return err == nil
}

// exposedPorts returns the container side of a service's ports in image
// config form ("8080/tcp"), sorted and without duplicates.
func exposedPorts(ports []types.ServicePortConfig) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range ports {
		if p.Target == 0 {
			continue
		}
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		k := fmt.Sprintf("%d/%s", p.Target, proto)
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// GoContexts returns, for each service built from Go sources (a build
// section without a Dockerfile), its build context directory. Services
// that cannot be planned are left out: Build reports them.
func GoContexts(stack *spec.Stack) map[string]string {
	proj := stack.Compose
	base := stackBase(stack)
	out := map[string]string{}
	for name, svc := range proj.Services {
		if svc.Build == nil {
			continue
		}
		if j, err := planService(name, svc, base, proj.Secrets); err == nil && j.docker == nil {
			out[name] = j.context
		}
	}
	return out
}
