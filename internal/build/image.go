package build

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ladderhq/ladder/internal/atomicfile"
	"github.com/ladderhq/ladder/internal/store"
)

// Image labels and index annotations ladder writes.
const (
	LabelTitle        = "org.opencontainers.image.title"
	LabelInputs       = "dev.ladder.inputs"
	AnnotationRefName = "org.opencontainers.image.ref.name"
)

// epoch is the one timestamp in every image ladder makes, so that an
// image's digest depends on its content only, never on when it was built.
var epoch = time.Unix(0, 0).UTC()

// imageMeta is everything besides the binary that goes into a Go image.
type imageMeta struct {
	service, inputs string
	arch, variant   string
	ports           []string
	// plain: the layer is an uncompressed tar (Options.PlainLayers).
	plain bool
	// labels are the stack's (build.labels); ladder's own win.
	labels map[string]string
}

// goImage wraps a static binary into a single-layer OCI image, the way ko
// does: /app, owned by root, mode 0755, at the epoch, and a config that
// runs it. It returns the image and its one layer, held in memory.
func goImage(bin []byte, m imageMeta) (v1.Image, *memLayer, error) {
	layer, err := appLayer(bin, m.plain)
	if err != nil {
		return nil, nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: epoch},
			CreatedBy: "ladder build (go " + m.service + ")",
			Comment:   "static Go binary at /app",
		},
	})
	if err != nil {
		return nil, nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: epoch}
	cf.OS = "linux"
	cf.Architecture = m.arch
	cf.Variant = m.variant
	cf.Config.Entrypoint = []string{"/app"}
	cf.Config.Env = []string{"PATH=/"}
	cf.Config.WorkingDir = "/"
	cf.Config.Labels = map[string]string{}
	for k, v := range m.labels {
		cf.Config.Labels[k] = v
	}
	cf.Config.Labels[LabelTitle], cf.Config.Labels[LabelInputs] = m.service, m.inputs
	if len(m.ports) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range m.ports {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, nil, err
	}
	return img, layer, nil
}

// appLayer returns a tar holding only /app, gzipped unless plain. Every
// header field that could vary between machines (times, owner names, ids)
// is fixed, and the gzip header carries no name or time, so equal binaries
// give equal layers. The tar is kept as parts (tarParts): bin itself is
// one of them.
func appLayer(bin []byte, plain bool) (*memLayer, error) {
	parts := &tarParts{big: bin}
	tw := tar.NewWriter(parts)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     "app",
		Mode:     0o755,
		Size:     int64(len(bin)),
		ModTime:  epoch,
		Format:   tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if plain {
		return newPlainLayer(parts.list...), nil
	}
	return newMemLayer(parts.list...)
}

// tarParts collects what a tar.Writer writes: the file's content, when it
// is handed on whole, by reference; headers and padding copied (the
// writer reuses its block buffer).
type tarParts struct {
	big  []byte
	list [][]byte
	// copied: the last part is a copy of small writes, which the next
	// small write extends.
	copied bool
}

func (p *tarParts) Write(b []byte) (int, error) {
	switch {
	case len(b) == 0:
	case len(b) == len(p.big) && &b[0] == &p.big[0]:
		p.list = append(p.list, b)
		p.copied = false
	case p.copied:
		last := len(p.list) - 1
		p.list[last] = append(p.list[last], b...)
	default:
		p.list = append(p.list, bytes.Clone(b))
		p.copied = true
	}
	return len(b), nil
}

// layoutPath opens the OCI layout at Dir, creating an empty one first.
// Callers hold b.layoutMu.
func (b *Builder) layoutPath() (layout.Path, error) {
	if _, err := os.Stat(filepath.Join(b.opts.Dir, "index.json")); errors.Is(err, os.ErrNotExist) {
		return layout.Write(b.opts.Dir, empty.Index)
	}
	return layout.FromPath(b.opts.Dir)
}

func (b *Builder) readIndex() (*v1.IndexManifest, error) {
	f, err := os.Open(filepath.Join(b.opts.Dir, "index.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return v1.ParseIndexManifest(f)
}

// hasImage reports whether digest is in the layout: listed in index.json
// (what layout readers and garbage collection go by) with its manifest,
// config and layer blobs on disk. A partly deleted image is rebuilt rather
// than handed out to fail later, at deploy time.
func (s *session) hasImage(digest string) bool {
	h, err := v1.NewHash(digest)
	if err != nil {
		return false
	}
	s.b.layoutMu.Lock()
	if s.index == nil {
		s.index = map[string]bool{}
		if idx, err := s.b.readIndex(); err == nil {
			for _, d := range idx.Manifests {
				s.index[d.Digest.String()] = true
			}
		}
	}
	listed := s.index[digest]
	s.b.layoutMu.Unlock()
	if !listed {
		return false
	}
	f, err := os.Open(s.b.blobPath(h))
	if err != nil {
		return false
	}
	defer f.Close()
	m, err := v1.ParseManifest(f)
	if err != nil {
		return false
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if fi, err := os.Stat(s.b.blobPath(d.Digest)); err != nil || fi.Size() != d.Size {
			return false
		}
	}
	return true
}

func (b *Builder) blobPath(h v1.Hash) string {
	return filepath.Join(b.opts.Dir, "blobs", h.Algorithm, h.Hex)
}

// storeImage writes img's blobs into the layout and lists it in index.json
// under "<service>@<digest>", once: storing an image already listed only
// restores any missing blob.
func (b *Builder) storeImage(s *session, img v1.Image, service string) (string, error) {
	digest, err := b.writeImage(img,
		func(digest string) map[string]string {
			return map[string]string{AnnotationRefName: service + "@" + digest}
		},
		func(v1.Descriptor) bool { return true })
	if err != nil {
		return "", err
	}
	if s != nil {
		b.layoutMu.Lock()
		if s.index != nil {
			s.index[digest] = true
		}
		b.layoutMu.Unlock()
	}
	return digest, nil
}

// writeImage writes img's blobs into the layout and lists it in index.json
// with the annotations annotate gives for its digest, unless a listing of
// that digest for which same is true is there already. Layers are written
// to a temp file and renamed into place; a truncated config or manifest
// blob is detected by its size and rewritten.
func (b *Builder) writeImage(img v1.Image, annotate func(digest string) map[string]string, same func(v1.Descriptor) bool) (string, error) {
	b.layoutMu.Lock()
	defer b.layoutMu.Unlock()
	p, err := b.layoutPath()
	if err != nil {
		return "", err
	}
	if err := p.WriteImage(img); err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	size, err := img.Size()
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	// Images copied from a registry keep their own manifest media type
	// (often Docker's); ladder's own are OCI.
	mt, err := img.MediaType()
	if err != nil {
		return "", err
	}
	idx, err := b.readIndex()
	if err != nil {
		return "", err
	}
	for _, m := range idx.Manifests {
		if m.Digest == d && same(m) {
			return d.String(), nil
		}
	}
	// The platform lets tools that load the layout (docker load, crane)
	// pick the image without opening it.
	idx.Manifests = append(idx.Manifests, v1.Descriptor{
		MediaType:   mt,
		Size:        size,
		Digest:      d,
		Platform:    &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
		Annotations: annotate(d.String()),
	})
	raw, err := json.MarshalIndent(idx, "", "   ")
	if err != nil {
		return "", err
	}
	// layout's own index writer truncates in place; a crash there would
	// lose every image, so the index is replaced atomically instead.
	if err := atomicfile.Write(filepath.Join(b.opts.Dir, "index.json"), raw, 0o600); err != nil {
		return "", err
	}
	b.index.mu.Lock()
	b.index.byHash = nil // this process's lookups see the new image at once
	b.index.mu.Unlock()
	return d.String(), nil
}

// storeFresh stores a Go image made by goImage and keeps it in the memo:
// what comes next (unpacking it for the process target, checking it is a
// static binary, its SBOM) reads it from memory instead of decompressing
// what was just compressed.
func (b *Builder) storeFresh(s *session, img v1.Image, layer *memLayer, service string) (string, error) {
	digest, err := b.storeImage(s, img, service)
	if err != nil {
		return "", err
	}
	b.memo.keep(digest, img, layer.held())
	return digest, nil
}

// Image returns the image of a digest from the artifact store. A digest
// not in the store gives an error naming it that wraps store.ErrNotFound.
func (b *Builder) Image(digest string) (v1.Image, error) {
	if img, ok := b.memo.image(digest); ok {
		return img, nil
	}
	h, err := v1.NewHash(digest)
	if err != nil {
		return nil, fmt.Errorf("image %q: malformed digest: %w", digest, err)
	}
	desc, ok, err := b.descriptor(h)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("image %s: not in the artifact store %s (it has no images yet): %w", digest, b.opts.Dir, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: reading the artifact store: %w", digest, err)
	}
	if ok {
		return openImage(b.opts.Dir, desc)
	}
	return nil, fmt.Errorf("image %s: not in the artifact store %s: %w", digest, b.opts.Dir, store.ErrNotFound)
}
