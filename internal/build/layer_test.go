package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// appLayer writes the tar a tar.Writer writes into one buffer, byte for
// byte (so the same digests), while holding the binary by reference.
func TestAppLayerIsTheTarOfTheBinary(t *testing.T) {
	for _, size := range []int{0, 1, 511, 512, 513, 4096, 1<<20 + 3} {
		bin := bytes.Repeat([]byte{0x7f, 'E', 'L', 'F', 1}, size/5+1)[:size]
		var want bytes.Buffer
		tw := tar.NewWriter(&want)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "app", Mode: 0o755, Size: int64(size), ModTime: epoch, Format: tar.FormatUSTAR}); err != nil {
			t.Fatal(err)
		}
		tw.Write(bin)
		tw.Close()
		ref, err := newMemLayer(want.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		got, err := appLayer(bin, false)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := appLayer(bin, true)
		if err != nil {
			t.Fatal(err)
		}
		if plain.digest != ref.diffID || plain.diffID != ref.diffID || plain.gz != nil || plain.size() != int64(want.Len()) {
			t.Errorf("%d bytes: plain layer %s/%s, %d bytes; want the diff ID %s for both and %d bytes", size, plain.digest, plain.diffID, plain.size(), ref.diffID, want.Len())
		}
		if blob, _ := plain.Compressed(); blob != nil {
			raw, _ := io.ReadAll(blob)
			if !bytes.Equal(raw, want.Bytes()) {
				t.Errorf("%d bytes: the plain layer's blob is not the tar", size)
			}
		}
		rc, _ := got.Uncompressed()
		tarball, _ := io.ReadAll(rc)
		if !bytes.Equal(tarball, want.Bytes()) {
			t.Errorf("%d bytes: the layer's tar differs from tar.Writer's", size)
		}
		if got.digest != ref.digest || got.diffID != ref.diffID || !bytes.Equal(got.gz, ref.gz) {
			t.Errorf("%d bytes: digests %s/%s, want %s/%s", size, got.digest, got.diffID, ref.digest, ref.diffID)
		}
		if got.held() != int64(len(want.Bytes())+len(got.gz)) {
			t.Errorf("%d bytes: held %d, want %d", size, got.held(), len(want.Bytes())+len(got.gz))
		}
		shared := false
		for _, p := range got.tar {
			shared = shared || (size > 0 && len(p) == size && &p[0] == &bin[0])
		}
		if size > 0 && !shared {
			t.Errorf("%d bytes: the binary was copied into the layer", size)
		}
	}
}

// A layer compressed in pieces side by side is one gzip member that the
// standard library reads back whole, with the right checksum and size,
// and the same bytes whatever the number of cores.
func TestGzipParallelIsOneGzipStream(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, gzipChunk - 1, gzipChunk, gzipChunk + 1, 3*gzipChunk + gzipChunk/2} {
		data := make([]byte, size)
		for i := range data {
			// Compressible, as binaries are: runs and repeats.
			data[i] = byte(rnd.IntN(8) + i/4096)
		}
		// Parts cut at places that do not line up with the pieces.
		var parts [][]byte
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+rnd.IntN(gzipChunk))
			parts, rest = append(parts, rest[:n]), rest[n:]
		}
		procs := runtime.GOMAXPROCS(1)
		one, err := gzipParallel(parts)
		runtime.GOMAXPROCS(4)
		four, err4 := gzipParallel(parts)
		runtime.GOMAXPROCS(procs)
		if err != nil || err4 != nil {
			t.Fatal(err, err4)
		}
		if !bytes.Equal(one, four) {
			t.Fatalf("%d bytes: one core and four give different streams", size)
		}
		br := bytes.NewReader(one)
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		zr.Multistream(false)
		back, err := io.ReadAll(zr) // checks the CRC and the size
		if err != nil {
			t.Fatalf("%d bytes: reading back: %v", size, err)
		}
		if !bytes.Equal(back, data) {
			t.Fatalf("%d bytes: read back %d bytes that differ", size, len(back))
		}
		if br.Len() != 0 {
			t.Fatalf("%d bytes: %d bytes after the gzip member", size, br.Len())
		}
		if size > gzipChunk && len(one) > size*3/4 {
			t.Errorf("%d bytes compressed to %d", size, len(one))
		}
	}
}
