package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// ConfigError is a build that cannot start because of the stack's
// configuration or something the machine lacks that the user provides (a
// base image, a build stage): the command line exits 2 for it.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErr(format string, a ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, a...)}
}

// AnnotationBaseID marks an image of the artifact store that is a base
// image copied from the engine, with the engine's image ID, so that it is
// copied once.
const AnnotationBaseID = "dev.ladder.base.id"

var imageRemoveOptions = image.RemoveOptions{PruneChildren: true}

// resolveBases looks up, in the Docker engine, every image the stages
// that build j's target read, and returns them by ID (and registry digest
// when known). An image the engine lacks is a ConfigError that names it
// and the command that provides it: ladder never pulls. The stages the
// target does not need are not looked at (the classic builder runs every
// stage up to the target, so for it those are needed).
func (b *Builder) resolveBases(ctx context.Context, j *job, df *dockerfile, classic bool) ([]snapshot.BaseImage, error) {
	g, err := parseStages(df.content, j.docker.args)
	if err != nil {
		// The builder reports a Dockerfile it cannot parse, with context.
		return nil, nil
	}
	t := g.targetIndex(j.docker.target)
	if t < 0 {
		return nil, configErr("service %q: build target %q is not a stage of %s (its stages: %s)",
			j.service, j.docker.target, j.docker.display, g.stageNames())
	}
	var out []snapshot.BaseImage
	for _, u := range g.images(t, classic) {
		if b.opts.Docker == nil {
			return nil, configErr("service %q: %s needs image %q (stage %s, line %d), and no Docker engine answers to take it from (%s): "+
				"ladder never pulls base images; start the engine and run `docker pull %s`", j.service, j.docker.display, u.ref, u.stage, u.line, dockerHost(), u.ref)
		}
		info, err := b.opts.Docker.ImageInspect(ctx, u.ref)
		if cerrdefs.IsNotFound(err) {
			return nil, configErr("service %q: %s needs image %q (stage %s, line %d), which the Docker engine does not have; "+
				"ladder never pulls base images: run `docker pull %s`, or build or load it into the engine first",
				j.service, j.docker.display, u.ref, u.stage, u.line, u.ref)
		} else if err != nil {
			return nil, fmt.Errorf("service %q: looking up image %q: %w", j.service, u.ref, engineErr(err))
		}
		out = append(out, snapshot.BaseImage{Ref: u.ref, ID: info.ID, Digest: repoDigest(u.ref, info.RepoDigests)})
	}
	return out, nil
}

// repoDigest picks, from an image's RepoDigests ("name@sha256:..."), the
// digest under ref's repository.
func repoDigest(ref string, repoDigests []string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	for _, rd := range repoDigests {
		n, err := reference.ParseNormalizedNamed(rd)
		if err != nil || n.Name() != named.Name() {
			continue
		}
		if d, ok := n.(reference.Digested); ok {
			return d.Digest().String()
		}
	}
	return ""
}

// storeBase copies a base image from the engine into the artifact store
// (the OCI layout BuildKit reads named contexts from) unless an earlier
// build did, and returns its manifest digest there. The image's config,
// and so its ID, are the engine's byte for byte.
func (b *Builder) storeBase(ctx context.Context, base snapshot.BaseImage) (string, error) {
	b.baseMu.Lock()
	defer b.baseMu.Unlock()
	if d := b.storedBase(base.ID); d != "" {
		return d, nil
	}
	rc, err := b.opts.Docker.ImageSave(ctx, []string{base.ID})
	if err != nil {
		return "", engineErr(err)
	}
	tmp, err := b.mkTemp(filepath.Join(b.opts.Dir, "tmp"), "base-")
	if err != nil {
		rc.Close()
		return "", err
	}
	defer os.RemoveAll(tmp)
	f, err := os.Create(filepath.Join(tmp, "saved.tar"))
	if err != nil {
		rc.Close()
		return "", err
	}
	_, err = io.Copy(f, rc)
	rc.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	img, err := tarball.ImageFromPath(f.Name(), nil)
	if err != nil {
		return "", err
	}
	if cfg, err := img.ConfigName(); err != nil || cfg.String() != base.ID {
		return "", fmt.Errorf("the engine saved image %v for %s (%v)", cfg, base.ID, err)
	}
	return b.writeImage(img,
		func(string) map[string]string {
			return map[string]string{AnnotationRefName: base.Ref, AnnotationBaseID: base.ID}
		},
		func(m v1.Descriptor) bool { return m.Annotations[AnnotationBaseID] == base.ID })
}

// storedBase returns the digest of the base image with engine image ID id
// in the artifact store, or "".
func (b *Builder) storedBase(id string) string {
	b.layoutMu.Lock()
	defer b.layoutMu.Unlock()
	idx, err := b.readIndex()
	if err != nil {
		return ""
	}
	for _, m := range idx.Manifests {
		if m.Annotations[AnnotationBaseID] == id {
			if _, err := os.Stat(b.blobPath(m.Digest)); err == nil {
				return m.Digest.String()
			}
		}
	}
	return ""
}
