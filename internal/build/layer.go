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
// stream (unpacking, SBOMs) get the tar as it was written. The tar is kept
// as the parts it was written in, so a binary of many megabytes is held
// as it came from the compiler rather than copied into one buffer.
type memLayer struct {
	tar            [][]byte
	gz             []byte
	digest, diffID v1.Hash
}

// newMemLayer compresses the tar made of parts into a layer.
func newMemLayer(parts ...[]byte) (*memLayer, error) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	var gz bytes.Buffer
	// Sized once for what a binary compresses to at this level (less than
	// half), rather than grown by doubling: every fresh allocation of
	// megabytes is memory the kernel must fault in and zero.
	gz.Grow(n/2 + 4096)
	zw, err := gzip.NewWriterLevel(&gz, layerCompression)
	if err != nil {
		return nil, err
	}
	diff := sha256.New()
	for _, p := range parts {
		if _, err := zw.Write(p); err != nil {
			return nil, err
		}
		diff.Write(p)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &memLayer{
		tar: parts, gz: gz.Bytes(),
		digest: sha256Hash(gz.Bytes()),
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))},
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
	readers := make([]io.Reader, len(l.tar))
	for i, p := range l.tar {
		readers[i] = bytes.NewReader(p)
	}
	return io.NopCloser(io.MultiReader(readers...)), nil
}

// held is the memory the layer occupies.
func (l *memLayer) held() int64 {
	n := len(l.gz)
	for _, p := range l.tar {
		n += len(p)
	}
	return int64(n)
}

var _ v1.Layer = (*memLayer)(nil)
