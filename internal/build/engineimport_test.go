package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ladderhq/ladder/internal/registrytest"
)

// cutEngine is an engine whose `docker save` stream breaks after limit
// bytes, as when the copy is killed or the engine goes away mid-stream.
type cutEngine struct {
	ImageEngine
	limit int64
}

func (e cutEngine) ImageSave(ctx context.Context, refs []string, opts ...client.ImageSaveOption) (io.ReadCloser, error) {
	rc, err := e.ImageEngine.ImageSave(ctx, refs, opts...)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, e.limit), errReader{io.ErrUnexpectedEOF}), rc}, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// A copy from the engine that breaks off records no artifact and leaves
// no partial blob; the next pin copies the image again, whole, to the
// same digest. Layers are stored as the engine has them, uncompressed,
// named by their diff IDs.
func TestEngineCopyCutShortIsRedoneWhole(t *testing.T) {
	eng := engine(t)
	ctx := context.Background()
	tag := fmt.Sprintf("ladder-cuttest-%d:1", time.Now().UnixNano())
	img := registrytest.Image(t, map[string]string{"www/v": strings.Repeat("cut short ", 10000)})
	if _, err := LoadImage(ctx, eng, img, tag); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = eng.ImageRemove(context.Background(), tag, image.RemoveOptions{}) })
	stack := imageStack(map[string]string{"web": tag}, nil)

	b, st := newPinBuilder(t)
	_, _, err := pin(t, b, stack, PinOptions{Engine: cutEngine{eng, 20 << 10}, Pull: PullNever})
	if err == nil {
		t.Fatal("pin from a stream cut short succeeded")
	}
	st.mu.Lock()
	recorded := len(st.arts)
	st.mu.Unlock()
	if recorded != 0 {
		t.Fatalf("%d artifacts recorded after a broken copy", recorded)
	}
	leftovers, _ := filepath.Glob(filepath.Join(b.opts.Dir, "blobs", "sha256", "*.tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("partial blobs left: %v", leftovers)
	}

	arts, rep, err := pin(t, b, stack, PinOptions{Engine: eng, Pull: PullNever})
	if err != nil {
		t.Fatal(err)
	}
	a := arts["web"]
	if fmt.Sprint(rep.Pulled) != "[web]" {
		t.Fatalf("pulled %v, want the copy redone", rep.Pulled)
	}
	fresh, _ := newPinBuilder(t)
	if again, _, err := pin(t, fresh, stack, PinOptions{Engine: eng}); err != nil || again["web"].Digest != a.Digest {
		t.Errorf("copy into an empty store: %v %s, want %s", err, again["web"].Digest, a.Digest)
	}
	if _, ok := b.stored(a.Digest); !ok {
		t.Fatalf("artifact %s not whole in the store", a.Digest)
	}
	stored, err := b.Image(a.Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := stored.Manifest()
	cf, _ := stored.ConfigFile()
	for i, l := range m.Layers {
		if l.MediaType != types.OCIUncompressedLayer || l.Digest != cf.RootFS.DiffIDs[i] {
			t.Errorf("layer %d: %s %s, want uncompressed, named by its diff ID %s", i, l.MediaType, l.Digest, cf.RootFS.DiffIDs[i])
		}
		fi, err := os.Stat(b.blobPath(l.Digest))
		if err != nil || fi.Size() != l.Size {
			t.Errorf("layer %d on disk: %v (size %d, want %d)", i, err, fi.Size(), l.Size)
		}
	}
}
