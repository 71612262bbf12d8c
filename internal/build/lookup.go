package build

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// indexCache is the layout's index.json parsed once per version of the
// file, as digest -> descriptor. Reading and parsing the whole index for
// every image lookup made rendering a large stack quadratic.
type indexCache struct {
	mu      sync.Mutex
	size    int64
	modTime time.Time
	byHash  map[v1.Hash]v1.Descriptor
}

// descriptor returns the index entry of h, reloading the index only when
// the file changed.
func (b *Builder) descriptor(h v1.Hash) (v1.Descriptor, bool, error) {
	c := &b.index
	fi, err := os.Stat(filepath.Join(b.opts.Dir, "index.json"))
	if err != nil {
		return v1.Descriptor{}, false, err
	}
	c.mu.Lock()
	if c.byHash != nil && fi.Size() == c.size && fi.ModTime().Equal(c.modTime) {
		d, ok := c.byHash[h]
		c.mu.Unlock()
		return d, ok, nil
	}
	c.mu.Unlock()
	// c.mu is never held while taking layoutMu: storeImage takes them the
	// other way round.
	b.layoutMu.Lock()
	idx, err := b.readIndex()
	b.layoutMu.Unlock()
	if err != nil {
		return v1.Descriptor{}, false, err
	}
	byHash := make(map[v1.Hash]v1.Descriptor, len(idx.Manifests))
	for _, d := range idx.Manifests {
		byHash[d.Digest] = d
	}
	c.mu.Lock()
	c.byHash, c.size, c.modTime = byHash, fi.Size(), fi.ModTime()
	c.mu.Unlock()
	d, ok := byHash[h]
	return d, ok, nil
}

// blobImage is an image of the layout read straight from its blobs, given
// its descriptor. Blobs are opened when read, so a blob altered on disk is
// seen (and caught by verification) however long the image is held.
type blobImage struct {
	dir  string
	desc v1.Descriptor

	once     sync.Once
	manifest []byte
	parsed   *v1.Manifest
	err      error
}

func openImage(dir string, desc v1.Descriptor) (v1.Image, error) {
	return partial.CompressedToImage(&blobImage{dir: dir, desc: desc})
}

func (i *blobImage) blob(h v1.Hash) string {
	return filepath.Join(i.dir, "blobs", h.Algorithm, h.Hex)
}

func (i *blobImage) load() error {
	i.once.Do(func() {
		i.manifest, i.err = os.ReadFile(i.blob(i.desc.Digest))
		if i.err == nil {
			i.parsed, i.err = v1.ParseManifest(bytes.NewReader(i.manifest))
		}
	})
	return i.err
}

func (i *blobImage) MediaType() (types.MediaType, error) { return i.desc.MediaType, nil }

func (i *blobImage) RawManifest() ([]byte, error) {
	if err := i.load(); err != nil {
		return nil, err
	}
	return i.manifest, nil
}

func (i *blobImage) RawConfigFile() ([]byte, error) {
	if err := i.load(); err != nil {
		return nil, err
	}
	return os.ReadFile(i.blob(i.parsed.Config.Digest))
}

func (i *blobImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if err := i.load(); err != nil {
		return nil, err
	}
	if h == i.parsed.Config.Digest {
		return &blobLayer{path: i.blob(h), desc: i.parsed.Config}, nil
	}
	for _, l := range i.parsed.Layers {
		if l.Digest == h {
			return &blobLayer{path: i.blob(h), desc: l}, nil
		}
	}
	return nil, fmt.Errorf("image %s has no layer %s", i.desc.Digest, h)
}

// blobLayer is one compressed layer (or the config) as a blob on disk.
type blobLayer struct {
	path string
	desc v1.Descriptor
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *blobLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// Compressed streams the blob and fails at its end when the bytes read do
// not hash to the layer's digest, so a layer altered in the store is
// refused by whatever reads it whole: a load into the engine, a push, an
// unpack.
func (l *blobLayer) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	return &verifyingReader{f: f, want: l.desc.Digest, sum: sha256.New()}, nil
}

type verifyingReader struct {
	f    *os.File
	want v1.Hash
	sum  hash.Hash
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	r.sum.Write(p[:n])
	if errors.Is(err, io.EOF) && r.want.Algorithm == "sha256" {
		if got := hex.EncodeToString(r.sum.Sum(nil)); got != r.want.Hex {
			return n, fmt.Errorf("artifact store blob %s: %w (it hashes to sha256:%s): it was altered or damaged on disk", r.want, ErrBlobAltered, got)
		}
	}
	return n, err
}

func (r *verifyingReader) Close() error { return r.f.Close() }
