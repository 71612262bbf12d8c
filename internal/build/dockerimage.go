package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// exportImage saves ref from the engine (`docker save` format) into dir
// and returns it normalised, with the total size of its layers. dir must
// outlive the image's use: its layers are read from there.
func exportImage(ctx context.Context, d DockerEngine, ref, dir, service, inputs string) (v1.Image, int64, error) {
	rc, err := d.ImageSave(ctx, []string{ref})
	if err != nil {
		return nil, 0, err
	}
	saved := filepath.Join(dir, "saved.tar")
	err = copyToFile(saved, rc)
	rc.Close()
	if err != nil {
		return nil, 0, err
	}
	// Only one image was saved, so no tag is needed to pick it.
	src, err := tarball.Image(func() (io.ReadCloser, error) { return os.Open(saved) }, nil)
	if err != nil {
		return nil, 0, err
	}
	return normaliseImage(src, dir, service, inputs)
}

func copyToFile(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// normaliseImage rebuilds an engine's image the way ladder stores images:
// OCI media types; layers recompressed by ladder (so the compressed digest
// does not depend on who compressed them, see appLayer); every timestamp in
// the config (created, history) at the epoch; the values that name one
// build on one engine (the builder's container, the parent image ID, the
// engine version) dropped; and the title and inputs labels set. The
// layers' content (their diff IDs) is kept as the engine made it.
func normaliseImage(src v1.Image, dir, service, inputs string) (v1.Image, int64, error) {
	cf, err := src.ConfigFile()
	if err != nil {
		return nil, 0, err
	}
	cf = cf.DeepCopy()
	layers, err := src.Layers()
	if err != nil {
		return nil, 0, err
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return nil, 0, fmt.Errorf("image has %d layers but its config lists %d", len(layers), len(cf.RootFS.DiffIDs))
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var size int64
	for i, l := range layers {
		p := filepath.Join(dir, fmt.Sprintf("layer-%d.tar.gz", i))
		if err := gzipLayer(l, p); err != nil {
			return nil, 0, fmt.Errorf("layer %d: %w", i, err)
		}
		nl, err := tarball.LayerFromFile(p, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, 0, fmt.Errorf("layer %d: %w", i, err)
		}
		if diffID, err := nl.DiffID(); err != nil || diffID != cf.RootFS.DiffIDs[i] {
			return nil, 0, fmt.Errorf("layer %d: diff ID %v (%v), config says %v", i, diffID, err, cf.RootFS.DiffIDs[i])
		}
		n, err := nl.Size()
		if err != nil {
			return nil, 0, err
		}
		size += n
		if img, err = mutate.AppendLayers(img, nl); err != nil {
			return nil, 0, err
		}
	}

	cf.Created = v1.Time{Time: epoch}
	for i := range cf.History {
		cf.History[i].Created = v1.Time{Time: epoch}
	}
	cf.Container = ""
	cf.DockerVersion = ""
	cf.Config.Image = ""
	labels := map[string]string{}
	for k, v := range cf.Config.Labels {
		labels[k] = v
	}
	labels[LabelTitle] = service
	labels[LabelInputs] = inputs
	cf.Config.Labels = labels
	// Replacing the config whole keeps the engine's history (with its
	// empty-layer steps) and diff IDs instead of what AppendLayers made up.
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, 0, err
	}
	return img, size, nil
}

// gzipLayer writes l's uncompressed content to path, gzipped at
// layerCompression with no name or time in the header.
func gzipLayer(l v1.Layer, path string) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(f, layerCompression)
	if err == nil {
		_, err = io.Copy(zw, rc)
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
