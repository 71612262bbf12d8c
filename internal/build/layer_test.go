package build

import (
	"archive/tar"
	"bytes"
	"io"
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
		got, err := appLayer(bin)
		if err != nil {
			t.Fatal(err)
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
