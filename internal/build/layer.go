package build

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// layerCompression trades ~10% larger layers for compressing several
// times faster: layers are written on every rebuild in the inner loop and
// never leave the machine uncached. The level and the compressor (a
// pinned version of klauspost/compress) are part of the digest, so they
// change only with BuilderVersion, which is in every inputs hash.
const layerCompression = gzip.BestSpeed

// memLayer is a layer held in memory both ways: the tar, and its gzip.
// Both digests are computed once, from the bytes at hand, so nothing is
// ever decompressed to learn the diff ID, and readers of the uncompressed
// stream (unpacking, SBOMs) get the tar as it was written.
type memLayer struct {
	tar, gz        []byte
	digest, diffID v1.Hash
}

// newMemLayer compresses tarball into a layer.
func newMemLayer(tarball []byte) (*memLayer, error) {
	var gz bytes.Buffer
	// Sized once for what a binary compresses to at this level (less than
	// half), rather than grown by doubling: every fresh allocation of
	// megabytes is memory the kernel must fault in and zero.
	gz.Grow(len(tarball)/2 + 4096)
	zw, err := gzip.NewWriterLevel(&gz, layerCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tarball); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &memLayer{
		tar: tarball, gz: gz.Bytes(),
		digest: sha256Hash(gz.Bytes()), diffID: sha256Hash(tarball),
	}, nil
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func (l *memLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *memLayer) Size() (int64, error)     { return int64(len(l.gz)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) {
	return types.OCILayer, nil
}

func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}

func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.tar)), nil
}

// held is the memory the layer occupies.
func (l *memLayer) held() int64 { return int64(len(l.tar) + len(l.gz)) }

var _ v1.Layer = (*memLayer)(nil)
