package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrBlobAltered is wrapped when a blob's bytes do not hash to the digest
// that names it: altered or damaged on disk, or corrupted on the way.
var ErrBlobAltered = errors.New("content does not match its digest")

// stored reports whether digest is an image of the layout with every blob
// on disk at its size, and returns the total size of its layers.
func (b *Builder) stored(digest string) (int64, bool) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return 0, false
	}
	if _, ok, err := b.descriptor(h); err != nil || !ok {
		return 0, false
	}
	raw, err := os.ReadFile(b.blobPath(h))
	if err != nil {
		return 0, false
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return 0, false
	}
	var size int64
	for i, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if fi, err := os.Stat(b.blobPath(d.Digest)); err != nil || fi.Size() != d.Size {
			return 0, false
		}
		if i > 0 {
			size += d.Size
		}
	}
	return size, true
}

func remoteOptions(ctx context.Context, opts PinOptions) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(opts.Keychain),
		remote.WithPlatform(*opts.Platform),
	}
}

// remoteImage resolves ref at its registry to the image for the platform,
// reading its manifest (and index) only.
func (b *Builder) remoteImage(ctx context.Context, svcName, ref string, parsed name.Reference, opts PinOptions) (v1.Image, error) {
	img, err := b.remoteImageQuiet(ctx, parsed, opts)
	if err != nil {
		return nil, b.registryErr(svcName, ref, err)
	}
	return img, nil
}

func (b *Builder) remoteImageQuiet(ctx context.Context, parsed name.Reference, opts PinOptions) (v1.Image, error) {
	return remote.Image(parsed, remoteOptions(ctx, opts)...)
}

// registryErr turns a registry's refusal into an ImageError that says what
// to do; other errors are wrapped with the service and image.
func (b *Builder) registryErr(svcName, ref string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		codes := map[transport.ErrorCode]bool{}
		for _, d := range te.Errors {
			codes[d.Code] = true
		}
		switch {
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden ||
			codes[transport.UnauthorizedErrorCode] || codes[transport.DeniedErrorCode]:
			host := ""
			if p, perr := name.ParseReference(ref); perr == nil {
				host = p.Context().RegistryStr()
			}
			return &ImageError{Service: svcName, Image: ref, Reason: ReasonUnauthorized, Err: err,
				Hint: fmt.Sprintf("docker login %s (ladder uses the credentials of your Docker config)", host)}
		case te.StatusCode == http.StatusNotFound || codes[transport.ManifestUnknownErrorCode] || codes[transport.NameUnknownErrorCode]:
			return &ImageError{Service: svcName, Image: ref, Reason: ReasonNotFound,
				Err:  fmt.Errorf("the registry has no such image, and the Docker engine has none by that name either: %w", err),
				Hint: "check the name and tag in the stack file, or build it: docker build -t " + ref + " ."}
		}
	}
	return fmt.Errorf("service %q: image %s: %w", svcName, ref, err)
}

// pullRemote resolves ref at the registry and copies the image into the
// store.
func (b *Builder) pullRemote(ctx context.Context, svcName, ref string, parsed name.Reference, opts PinOptions) (string, int64, error) {
	img, err := b.remoteImage(ctx, svcName, ref, parsed, opts)
	if err != nil {
		return "", 0, err
	}
	d, size, err := b.copyIn(ctx, img, svcName, ref, builderRegistry)
	if err != nil {
		return "", 0, b.registryErr(svcName, ref, err)
	}
	return d, size, nil
}

// copyIn writes img into the layout as it is (its manifest, config and
// compressed layers byte for byte, so its digest is the registry's),
// checking every blob against the digest that names it, and lists it in
// index.json. Blobs already stored are not fetched again. Progress reports
// layers and bytes as they arrive.
func (b *Builder) copyIn(ctx context.Context, img v1.Image, svcName, ref, source string) (string, int64, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return "", 0, err
	}
	digest := v1.Hash{Algorithm: "sha256", Hex: sha256Hex(raw)}
	if want, err := img.Digest(); err == nil && want != digest {
		return "", 0, fmt.Errorf("manifest %s: %w (it hashes to %s)", want, ErrBlobAltered, digest)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return "", 0, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return "", 0, err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return "", 0, err
	}
	if err := b.writeBlob(m.Config.Digest, bytes.NewReader(cfg), nil); err != nil {
		return "", 0, fmt.Errorf("config: %w", err)
	}
	var total, size int64
	for _, l := range m.Layers {
		total += l.Size
	}
	b.emit(Progress{Service: svcName, State: StatePulling, Image: ref, Source: source})
	for i, l := range m.Layers {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		if fi, err := os.Stat(b.blobPath(l.Digest)); err != nil || fi.Size() != l.Size {
			layer, err := img.LayerByDigest(l.Digest)
			if err != nil {
				return "", 0, fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			rc, err := layer.Compressed()
			if err != nil {
				return "", 0, fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			base := size
			err = b.writeBlob(l.Digest, rc, func(n int64) {
				b.emit(Progress{Service: svcName, State: StatePulling, Image: ref, Source: source,
					Layers: i, LayersTotal: len(m.Layers), Bytes: base + n, BytesTotal: total})
			})
			rc.Close()
			if err != nil {
				return "", 0, fmt.Errorf("layer %s: %w", l.Digest, err)
			}
		}
		size += l.Size
		b.emit(Progress{Service: svcName, State: StatePulling, Image: ref, Source: source,
			Layers: i + 1, LayersTotal: len(m.Layers), Bytes: size, BytesTotal: total})
	}
	if err := b.writeBlob(digest, bytes.NewReader(raw), nil); err != nil {
		return "", 0, fmt.Errorf("manifest: %w", err)
	}
	desc := v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: digest}
	stored, err := openImage(b.opts.Dir, desc)
	if err != nil {
		return "", 0, err
	}
	d, err := b.storeImage(nil, stored, svcName)
	if err != nil {
		return "", 0, err
	}
	return d, size, nil
}

// progressEvery is how many bytes of a layer pass between two progress
// reports.
const progressEvery = 4 << 20

// writeBlob writes r into the layout as the blob h, through a temp file
// renamed into place once its bytes hash to h: a blob on disk is always
// whole and what its name says. An existing blob is kept.
func (b *Builder) writeBlob(h v1.Hash, r io.Reader, progress func(n int64)) error {
	dst := b.blobPath(h)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), h.Hex+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	sum := sha256.New()
	var n, next int64
	buf := make([]byte, 256<<10)
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			sum.Write(buf[:k])
			if _, err := f.Write(buf[:k]); err != nil {
				f.Close()
				return err
			}
			n += int64(k)
			if progress != nil && n >= next {
				progress(n)
				next = n + progressEvery
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			f.Close()
			return rerr
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.Hex {
		return fmt.Errorf("blob %s: %w (it hashes to sha256:%s)", h, ErrBlobAltered, got)
	}
	return os.Rename(f.Name(), dst)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// importFromEngine copies an image the engine has (`docker save`) into
// the store in one pass over the engine's stream: its config byte for
// byte, so the engine's image ID stays the image's, and its layers as the
// engine gives them, uncompressed, each hashed while it is written and
// checked against the diff ID the config names for it. A layer's digest
// is its diff ID, so the same engine image always gives the same artifact
// digest. (The engine keeps no compressed layers, so a registry's digest
// cannot be kept; compressing would cost more than the copy itself.)
// An image another project on this machine copied already comes from the
// shared store instead (shared reports it), with no `docker save`.
func (b *Builder) importFromEngine(ctx context.Context, eng ImageEngine, svcName, ref, engineID string) (digest string, size int64, shared bool, err error) {
	if d, size, ok := b.fromShared(engineID, svcName); ok {
		return d, size, true, nil
	}
	digest, size, err = b.saveFromEngine(ctx, eng, svcName, ref, engineID)
	return digest, size, false, err
}

// saveFromEngine is importFromEngine's copy through `docker save`.
func (b *Builder) saveFromEngine(ctx context.Context, eng ImageEngine, svcName, ref, engineID string) (string, int64, error) {
	rc, err := eng.ImageSave(ctx, []string{ref})
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	saved, err := b.readSaved(rc)
	if err != nil {
		return "", 0, fmt.Errorf("reading the engine's image stream: %w", err)
	}
	cfg, layers, err := saved.image()
	if err != nil {
		return "", 0, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(cfg))
	if err != nil {
		return "", 0, fmt.Errorf("the engine's image config: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(layers) {
		return "", 0, fmt.Errorf("the engine's image has %d layers and %d diff IDs", len(layers), len(cf.RootFS.DiffIDs))
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(cfg)), Digest: v1.Hash{Algorithm: "sha256", Hex: sha256Hex(cfg)}},
	}
	var size int64
	for i, l := range layers {
		if l.Digest != cf.RootFS.DiffIDs[i] {
			return "", 0, fmt.Errorf("layer %d: %w: the engine's layer hashes to %s, its config names %s", i, ErrBlobAltered, l.Digest, cf.RootFS.DiffIDs[i])
		}
		size += l.Size
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Size: l.Size, Digest: l.Digest})
	}
	b.emit(Progress{Service: svcName, State: StatePulling, Image: ref, Source: builderEngine, Layers: len(layers), LayersTotal: len(layers), Bytes: size, BytesTotal: size})
	if err := b.writeBlob(m.Config.Digest, bytes.NewReader(cfg), nil); err != nil {
		return "", 0, err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return "", 0, err
	}
	d, err := b.storeManifest(raw, svcName)
	if err == nil && engineID == m.Config.Digest.String() {
		b.share(engineID, raw, m)
	}
	return d, size, err
}

// storeManifest writes manifest raw, whose config and layers are in the
// layout already, and lists its image for service (see storeImage).
func (b *Builder) storeManifest(raw []byte, service string) (string, error) {
	digest := v1.Hash{Algorithm: "sha256", Hex: sha256Hex(raw)}
	if err := b.writeBlob(digest, bytes.NewReader(raw), nil); err != nil {
		return "", err
	}
	img, err := openImage(b.opts.Dir, v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: int64(len(raw)), Digest: digest})
	if err != nil {
		return "", err
	}
	return b.storeImage(nil, img, service)
}

// savedFiles is what readSaved kept of a `docker save` stream: its small
// JSON files in memory, every other file as a blob of the layout.
type savedFiles struct {
	small map[string][]byte
	blobs map[string]v1.Descriptor // by path in the stream
	dir   string                   // the layout the blobs went into
}

// savedSmall bounds the files of a `docker save` stream kept in memory:
// the manifest, the repositories file and image configs.
const savedSmall = 4 << 20

// readSaved reads a `docker save` stream once, to its end. Files ending in
// .json (and the repositories file) are kept in memory; any other file (a
// layer, or in the OCI layout of newer engines any blob) is written into
// the layout's blob directory as it streams past, hashed on the way, and
// named by its digest.
func (b *Builder) readSaved(r io.Reader) (*savedFiles, error) {
	s := &savedFiles{small: map[string][]byte{}, blobs: map[string]v1.Descriptor{}, dir: b.opts.Dir}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return s, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(hdr.Name)
		if (strings.HasSuffix(name, ".json") || name == "repositories") && hdr.Size <= savedSmall {
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			s.small[name] = data
			continue
		}
		h, n, err := b.streamBlob(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.blobs[name] = v1.Descriptor{Digest: h, Size: n}
	}
}

// image returns the config and the layers, in order, of the one image of
// the stream, as its manifest.json names them.
func (s *savedFiles) image() ([]byte, []v1.Descriptor, error) {
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(s.small["manifest.json"], &manifest); err != nil {
		return nil, nil, fmt.Errorf("the engine's image stream has no readable manifest.json: %w", err)
	}
	if len(manifest) != 1 {
		return nil, nil, fmt.Errorf("the engine's image stream holds %d images, want 1", len(manifest))
	}
	cfg, ok := s.small[path.Clean(manifest[0].Config)]
	if !ok {
		// Newer engines save an OCI layout: the config is a blob.
		d, ok := s.blobs[path.Clean(manifest[0].Config)]
		if !ok {
			return nil, nil, fmt.Errorf("the engine's image stream lacks its config %s", manifest[0].Config)
		}
		var err error
		if cfg, err = os.ReadFile(filepath.Join(s.dir, "blobs", d.Digest.Algorithm, d.Digest.Hex)); err != nil {
			return nil, nil, err
		}
	}
	var layers []v1.Descriptor
	for _, l := range manifest[0].Layers {
		d, ok := s.blobs[path.Clean(l)]
		if !ok {
			return nil, nil, fmt.Errorf("the engine's image stream lacks its layer %s", l)
		}
		layers = append(layers, d)
	}
	return cfg, layers, nil
}

// streamBlob writes r into the layout as a blob named by the digest of
// its bytes, hashed as they are written, and returns that digest and
// the size. An existing blob of that digest is kept.
func (b *Builder) streamBlob(r io.Reader) (v1.Hash, int64, error) {
	dir := filepath.Join(b.opts.Dir, "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return v1.Hash{}, 0, err
	}
	f, err := os.CreateTemp(dir, "stream.tmp-")
	if err != nil {
		return v1.Hash{}, 0, err
	}
	defer os.Remove(f.Name())
	sum := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, sum), r, make([]byte, 256<<10))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return v1.Hash{}, 0, err
	}
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum.Sum(nil))}
	if fi, err := os.Stat(b.blobPath(h)); err == nil && fi.Size() == n {
		return h, n, nil
	}
	return h, n, os.Rename(f.Name(), b.blobPath(h))
}
