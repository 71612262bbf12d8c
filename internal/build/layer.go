package build

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"runtime"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/flate"
)

// layerCompression trades ~10% larger layers for compressing several
// times faster: layers are written on every rebuild in the inner loop and
// never leave the machine uncached. The level, the compressor (a pinned
// version of klauspost/compress) and gzipChunk are part of the digest, so
// they change only with BuilderVersion, which is in every inputs hash.
const layerCompression = flate.BestSpeed

// gzipChunk is the size of the pieces a layer is compressed in, side by
// side, one per core: each piece is a deflate stream of its own, ended by
// a sync flush (the last one by the final block), and their concatenation
// is one gzip member that any gzip reader reads whole. The size is fixed,
// never the number of cores, so that a layer's bytes, and its digest, do
// not depend on the machine that made it.
const gzipChunk = 1 << 20

// memLayer is a layer held in memory both ways: the tar, and its gzip.
// Both digests are computed once, from the bytes at hand, so nothing is
// ever decompressed to learn the diff ID, and readers of the uncompressed
// stream (unpacking, SBOMs) get the tar as it was written. The tar is kept
// as the parts it was written in, so a binary of many megabytes is held
// as it came from the compiler rather than copied into one buffer.
//
// A plain layer (Options.PlainLayers) has no gzip: its blob is the tar,
// of the uncompressed OCI media type, and its digest is its diff ID.
type memLayer struct {
	tar            [][]byte
	gz             []byte
	plain          bool
	digest, diffID v1.Hash
}

// newPlainLayer makes an uncompressed layer of the tar made of parts.
func newPlainLayer(parts ...[]byte) *memLayer {
	diff := sha256.New()
	for _, p := range parts {
		diff.Write(p)
	}
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}
	return &memLayer{tar: parts, plain: true, digest: h, diffID: h}
}

// newMemLayer compresses the tar made of parts into a layer: the pieces
// in parallel, and the diff ID beside them.
func newMemLayer(parts ...[]byte) (*memLayer, error) {
	diffDone := make(chan v1.Hash, 1)
	go func() {
		diff := sha256.New()
		for _, p := range parts {
			diff.Write(p)
		}
		diffDone <- v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}
	}()
	gz, err := gzipParallel(parts)
	diffID := <-diffDone
	if err != nil {
		return nil, err
	}
	return &memLayer{tar: parts, gz: gz, digest: sha256Hash(gz), diffID: diffID}, nil
}

// gzipParallel compresses the concatenation of parts into one gzip member
// (RFC 1952), in gzipChunk pieces compressed side by side.
func gzipParallel(parts [][]byte) ([]byte, error) {
	chunks := splitChunks(parts, gzipChunk)
	out := make([][]byte, len(chunks))
	errs := make([]error, len(chunks))
	next := make(chan int, len(chunks))
	for i := range chunks {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(chunks)) {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = deflateChunk(chunks[i], i == len(chunks)-1)
			}
		})
	}
	crc, size := uint32(0), 0
	for _, p := range parts {
		crc = crc32.Update(crc, crc32.IEEETable, p)
		size += len(p)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	n := gzipHeaderLen + 8
	for _, c := range out {
		n += len(c)
	}
	gz := make([]byte, 0, n)
	// No name, no time, "fastest" in XFL, an unknown OS: nothing that
	// varies between machines.
	gz = append(gz, 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255)
	for _, c := range out {
		gz = append(gz, c...)
	}
	gz = binary.LittleEndian.AppendUint32(gz, crc)
	gz = binary.LittleEndian.AppendUint32(gz, uint32(size))
	return gz, nil
}

const gzipHeaderLen = 10

// splitChunks cuts the concatenation of parts into pieces of size bytes
// (the last one shorter), each a list of sub-slices: nothing is copied.
// Empty input is one empty piece, so that the stream still has its final
// block.
func splitChunks(parts [][]byte, size int) [][][]byte {
	var chunks [][][]byte
	var cur [][]byte
	room := size
	for _, p := range parts {
		for len(p) > 0 {
			take := min(room, len(p))
			cur = append(cur, p[:take])
			p, room = p[take:], room-take
			if room == 0 {
				chunks, cur, room = append(chunks, cur), nil, size
			}
		}
	}
	if len(cur) > 0 || len(chunks) == 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}

// deflateChunk compresses one piece on its own: ended by a sync flush,
// which leaves the stream open and byte-aligned for the next piece, or,
// for the last piece, by the final block.
func deflateChunk(segs [][]byte, last bool) ([]byte, error) {
	n := 0
	for _, s := range segs {
		n += len(s)
	}
	var buf bytes.Buffer
	// Sized once for what a binary compresses to at this level (less than
	// half), rather than grown by doubling.
	buf.Grow(n/2 + 4096)
	fw, err := flate.NewWriter(&buf, layerCompression)
	if err != nil {
		return nil, err
	}
	for _, s := range segs {
		if _, err := fw.Write(s); err != nil {
			return nil, err
		}
	}
	if last {
		err = fw.Close()
	} else {
		err = fw.Flush()
	}
	return buf.Bytes(), err
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func (l *memLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *memLayer) Size() (int64, error)     { return l.size(), nil }
func (l *memLayer) MediaType() (types.MediaType, error) {
	if l.plain {
		return types.OCIUncompressedLayer, nil
	}
	return types.OCILayer, nil
}

// size is the size of the layer's blob.
func (l *memLayer) size() int64 {
	if !l.plain {
		return int64(len(l.gz))
	}
	n := 0
	for _, p := range l.tar {
		n += len(p)
	}
	return int64(n)
}

// Compressed is the layer's blob: the gzip, or a plain layer's tar.
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	if l.plain {
		return l.Uncompressed()
	}
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
