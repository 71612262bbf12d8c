package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/core/content"
	contentlocal "github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/tonistiigi/fsutil"
	fstypes "github.com/tonistiigi/fsutil/types"

	"github.com/ladderhq/ladder/internal/buildkit"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// BuildKitClassic as Options.BuildKitHost builds Dockerfiles with the
// engine's classic builder even when the engine has a BuildKit.
const BuildKitClassic = "classic"

// Dockerfile builders, as they enter the inputs hash: an image built by
// one is not reused for another.
const (
	dockerClassic  = "classic/1"
	dockerBuildKit = "buildkit/1"
)

// dockerBackend is what builds this Builder's Dockerfiles, chosen once.
type dockerBackend struct {
	bk   *buildkit.Client // nil: the engine's classic builder
	kind string           // dockerClassic or dockerBuildKit
	err  error            // an explicit BuildKit that does not answer
}

// backend connects to the BuildKit that builds Dockerfiles, once per
// Builder: the one at Options.BuildKitHost, or else the Docker engine's.
// Only an engine without BuildKit falls back to the classic builder, and
// says so in one line (Progress with State StateNotice).
func (b *Builder) backend(ctx context.Context) *dockerBackend {
	b.bkOnce.Do(func() {
		host := b.opts.BuildKitHost
		switch {
		case host == BuildKitClassic:
			b.bk = &dockerBackend{kind: dockerClassic}
		case host != "":
			c, err := buildkit.Connect(ctx, host)
			if err != nil {
				b.bk = &dockerBackend{err: fmt.Errorf("%w (LADDER_BUILDKIT_HOST=%s)", err, host)}
				return
			}
			b.bk = &dockerBackend{bk: c, kind: dockerBuildKit}
		case b.opts.Docker == nil:
			b.bk = &dockerBackend{err: ErrDockerfile}
		default:
			c, err := buildkit.ConnectEngine(ctx, b.opts.Docker)
			var ue *buildkit.UnavailableError
			if errors.As(err, &ue) {
				b.emit(Progress{State: StateNotice, Detail: fmt.Sprintf("the Docker engine (%s) has no BuildKit (%s): building Dockerfiles with its "+
					"classic builder, which lacks heredocs, RUN --mount and COPY --link (LADDER_BUILDKIT_HOST names a BuildKit to use instead)",
					dockerHost(), ue.Cause)})
				b.bk = &dockerBackend{kind: dockerClassic}
				return
			}
			if errors.Is(err, buildkit.ErrNoEngine) {
				b.bk = &dockerBackend{err: fmt.Errorf("Docker engine not reachable (%s): %s", dockerHost(),
					strings.TrimPrefix(err.Error(), buildkit.ErrNoEngine.Error()+": "))}
				return
			}
			if err != nil {
				b.bk = &dockerBackend{err: err}
				return
			}
			b.bk = &dockerBackend{bk: c, kind: dockerBuildKit}
		}
	})
	return b.bk
}

// Close releases the connection to BuildKit, if one was made.
func (b *Builder) Close() error {
	b.ahead.Wait()
	if b.bk != nil && b.bk.bk != nil {
		return b.bk.bk.Close()
	}
	return nil
}

// ociStoreID names ladder's artifact store as an OCI layout BuildKit reads
// base images from (oci-layout://ladder-artifacts@sha256:...).
const ociStoreID = "ladder-artifacts"

// buildBuildKit builds j with BuildKit and stores the image, normalised
// like the classic builder's (see normaliseImage). With the engine's
// BuildKit the image goes through the engine's store (a temporary tag,
// then `docker save`); a BuildKit at an address sends it back as a
// tarball, and takes the base images from ladder's artifact store.
func (b *Builder) buildBuildKit(ctx context.Context, s *session, j *job, inputs string, bk *buildkit.Client) (snapshot.Artifact, error) {
	fail := func(format string, a ...any) (snapshot.Artifact, error) {
		return snapshot.Artifact{}, fmt.Errorf("service %q: "+format, append([]any{j.service}, a...)...)
	}
	df, err := j.docker.read(j.context)
	if err != nil {
		return fail("%w", err)
	}
	tmp, err := b.mkTemp(filepath.Join(b.opts.Dir, "tmp"), "buildkit-"+safeName(j.service)+"-")
	if err != nil {
		return fail("%w", err)
	}
	defer os.RemoveAll(tmp)

	ctxFS, err := b.contextFS(j, df)
	if err != nil {
		return fail("build context: %w", err)
	}
	dfDir := filepath.Join(tmp, "dockerfile")
	if err := os.Mkdir(dfDir, 0o755); err != nil {
		return fail("%w", err)
	}
	if err := os.WriteFile(filepath.Join(dfDir, "Dockerfile"), df.content, 0o644); err != nil {
		return fail("%w", err)
	}
	dfFS, err := fsutil.NewFS(dfDir)
	if err != nil {
		return fail("%w", err)
	}
	req := buildkit.Dockerfile{
		Context:         ctxFS,
		Dockerfile:      dfFS,
		Filename:        "Dockerfile",
		BuiltinFrontend: builtinSyntax(df.content),
		Args:            map[string]string{},
		Target:          j.docker.target,
		Labels:          j.labels,
		ExtraHosts:      j.docker.extraHosts,
		Secrets:         j.docker.secrets,
		SSH:             j.docker.ssh,
		Log:             func(line string) { b.log(j.service, line) },
	}
	for k, v := range j.docker.args {
		if v != nil {
			req.Args[k] = *v
		}
	}
	var saved string
	switch bk.Kind() {
	case buildkit.KindEngine:
		req.Tag = tempTag(j.service, inputs)
		defer b.opts.Docker.ImageRemove(context.WithoutCancel(ctx), req.Tag, imageRemoveOptions)
	default:
		// File times in the layers and the config at the epoch (see
		// contextFS), so that a layer's digest depends on its content.
		req.Args["SOURCE_DATE_EPOCH"] = "0"
		saved = filepath.Join(tmp, "image.tar")
		req.Output = func() (io.WriteCloser, error) { return os.Create(saved) }
		if err := b.baseContexts(ctx, j, &req); err != nil {
			return fail("%w", err)
		}
	}
	if err := bk.Build(ctx, req); err != nil {
		if ctx.Err() != nil {
			return fail("docker build: %w", ctx.Err())
		}
		return fail("docker build failed (%s): %w%s", bk, err, syntaxHint(bk.Kind(), err))
	}
	var out v1.Image
	var size int64
	if saved != "" {
		var src v1.Image
		if src, err = tarball.ImageFromPath(saved, nil); err == nil {
			out, size, err = normaliseImage(src, tmp, j.service, inputs)
		}
	} else {
		out, size, err = exportImage(ctx, b.opts.Docker, req.Tag, tmp, j.service, inputs)
	}
	if err != nil {
		return fail("reading the built image: %w", err)
	}
	digest, err := b.storeImage(s, out, j.service)
	if err != nil {
		return fail("storing the image: %w", err)
	}
	return snapshot.Artifact{Service: j.service, Digest: digest, Builder: builderDockerfile, Inputs: inputs, Size: size, Bases: j.bases}, nil
}

// builtinSyntax reports whether a "# syntax=" line (if any) names the
// stable Dockerfile syntax (docker/dockerfile:1, :1.N, :1.N.M), which the
// BuildKit's own frontend speaks: ladder then does not have BuildKit pull
// the frontend image. Other frontends (labs, custom ones, one pinned by
// digest) are honoured.
func builtinSyntax(content []byte) bool {
	ref, _, _, ok := parser.DetectSyntax(content)
	if !ok {
		return true
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil || reference.FamiliarName(named) != "docker/dockerfile" {
		return false
	}
	if _, pinned := named.(reference.Digested); pinned {
		return false
	}
	tag := "latest"
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if tag == "latest" {
		return true
	}
	for _, part := range strings.Split(tag, ".") {
		if part == "" || strings.Trim(part, "0123456789") != "" {
			return false
		}
	}
	return strings.HasPrefix(tag, "1")
}

// contextFS is the build context as BuildKit reads it: what .dockerignore
// keeps (BuildKit applies it again, to the same effect), and never
// ladder's state directory. Files keep their times: BuildKit sends only
// the files whose size or time changed since the last build, so a time
// made up by ladder could hide a change. A BuildKit at an address clamps
// the times in the layers to the epoch (SOURCE_DATE_EPOCH=0 with
// rewrite-timestamp); the engine's BuildKit keeps them, as docker build
// does.
func (b *Builder) contextFS(j *job, df *dockerfile) (fsutil.FS, error) {
	base, err := fsutil.NewFS(j.context)
	if err != nil {
		return nil, err
	}
	pm, err := ignorePatterns(j.context, df)
	if err != nil {
		return nil, err
	}
	var patterns []string
	for _, p := range pm.Patterns() {
		patterns = append(patterns, p.String())
	}
	skips := b.contextSkips(j.context)
	return fsutil.NewFilterFS(base, &fsutil.FilterOpt{
		ExcludePatterns: patterns,
		Map: func(p string, _ *fstypes.Stat) fsutil.MapResult {
			if slices.Contains(skips, p) {
				return fsutil.MapResultSkipDir
			}
			return fsutil.MapResultKeep
		},
	})
}

// contextSkips returns, relative to the context dir (slash-separated),
// the directories of ladder's own state inside it: the state directory
// and the artifact store. A context that holds the project directory
// holds .ladder/ too, which changes with every up; were it sent, every
// up would rebuild.
func (b *Builder) contextSkips(dir string) []string {
	var out []string
	for _, d := range []string{b.opts.StateDir, b.opts.Dir} {
		if d == "" {
			continue
		}
		rel, err := filepath.Rel(dir, d)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			continue
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

// baseContexts hands the base images of j to a BuildKit at an address as
// named contexts from ladder's artifact store, so that it never pulls:
// each is copied there from the engine once (see storeBase).
func (b *Builder) baseContexts(ctx context.Context, j *job, req *buildkit.Dockerfile) error {
	if len(j.bases) == 0 {
		return nil
	}
	store, err := contentlocal.NewStore(b.opts.Dir)
	if err != nil {
		return err
	}
	req.OCIStores = map[string]content.Store{ociStoreID: store}
	req.Contexts = map[string]string{}
	for _, base := range j.bases {
		digest, err := b.storeBase(ctx, base)
		if err != nil {
			return fmt.Errorf("copying base image %s from the Docker engine: %w", base.Ref, err)
		}
		req.Contexts[contextName(base.Ref)] = "oci-layout://" + ociStoreID + "@" + digest
	}
	return nil
}

// contextName is the name BuildKit's Dockerfile frontend looks a FROM or
// --from image up by among the named contexts: the familiar form of the
// reference, without ":latest".
func contextName(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return strings.TrimSuffix(reference.FamiliarString(named), ":latest")
}

// syntaxHint says what to do when the engine's BuildKit cannot parse a
// Dockerfile: an engine older than Docker 23 embeds a BuildKit whose
// Dockerfile parser predates heredocs and COPY --link, and a
// `# syntax=` line would need a registry to pull a newer one from.
func syntaxHint(kind string, err error) string {
	msg := err.Error()
	if kind != buildkit.KindEngine || !(strings.Contains(msg, "dockerfile parse error") || strings.Contains(msg, "Unknown flag")) {
		return ""
	}
	return "\n(the Docker engine's BuildKit may predate this Dockerfile syntax, such as heredocs or COPY --link: " +
		"set LADDER_BUILDKIT_HOST to a current buildkitd; see the README, \"Dockerfiles and BuildKit\")"
}
