package build

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ladderhq/ladder/internal/registrytest"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
)

// sharedProjects are two projects' builders on one machine's shared store.
func sharedProjects(t *testing.T) (first, second *Builder, shared string) {
	shared = filepath.Join(t.TempDir(), "shared")
	mk := func() *Builder {
		return New(Options{Store: newFakeStore(), Dir: filepath.Join(t.TempDir(), "artifacts"), Shared: shared})
	}
	return mk(), mk(), shared
}

// engineTag loads a small image with content of its own into the engine
// under a fresh tag, removed when the test ends.
func engineTag(t *testing.T, content string) string {
	t.Helper()
	docker := engine(t)
	tag := fmt.Sprintf("ladder-sharedtest-%d:1", time.Now().UnixNano())
	img := registrytest.Image(t, map[string]string{"srv/data": strings.Repeat(content, 4000)})
	if _, err := LoadImage(context.Background(), docker, img, tag); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = docker.ImageRemove(context.Background(), tag, image.RemoveOptions{}) })
	return tag
}

// mustPin pins stack's images through eng, as `ladder up` does.
func mustPin(t *testing.T, b *Builder, stack *spec.Stack, eng ImageEngine) map[string]snapshot.Artifact {
	t.Helper()
	arts, _, err := pin(t, b, stack, PinOptions{Engine: eng, Pull: PullMissing})
	if err != nil {
		t.Fatal(err)
	}
	return arts
}

// layersOf is the layers of the stored image of digest.
func layersOf(t *testing.T, b *Builder, digest string) []v1.Layer {
	t.Helper()
	img, err := b.Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		t.Fatalf("image %s: layers %v, %v", digest, layers, err)
	}
	return layers
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// The second project to pin an engine image takes the first one's copy
// from the shared store: no `docker save`, the same digest, its blobs
// hard links of the first project's, and an image that reads back whole.
func TestSharedStoreCopiesAnEngineImageOnceForTheMachine(t *testing.T) {
	tag := engineTag(t, "shared between projects ")
	eng := &savingEngine{ImageEngine: engine(t)}
	first, second, shared := sharedProjects(t)
	stack := imageStack(map[string]string{"db": tag}, nil)

	a1 := mustPin(t, first, stack, eng)["db"]
	if n := eng.saves.Load(); n != 1 {
		t.Fatalf("the first project saved the image %d times, want once", n)
	}
	var sources []string
	second.opts.Progress = func(p Progress) {
		if p.State == StatePulled {
			sources = append(sources, p.Source)
		}
	}
	arts2, rep, err := pin(t, second, stack, PinOptions{Engine: eng, Pull: PullMissing})
	if err != nil {
		t.Fatal(err)
	}
	a2 := arts2["db"]
	if n := eng.saves.Load(); n != 1 {
		t.Errorf("the second project made the engine save the image again (%d saves)", n)
	}
	if a2.Digest != a1.Digest || a2.Builder != builderEngine || fmt.Sprint(rep.Pulled) != "[db]" {
		t.Errorf("second pin %+v pulled %v, want %s from the engine", a2, rep.Pulled, a1.Digest)
	}
	if fmt.Sprint(sources) != "["+SourceShared+"]" {
		t.Errorf("pulled from %q, want the shared store", sources)
	}
	for _, l := range layersOf(t, second, a2.Digest) {
		d, _ := l.Digest()
		p1, p2, ps := first.blobPath(d), second.blobPath(d), filepath.Join(shared, "blobs", d.Algorithm, d.Hex)
		if inode(t, p1) != inode(t, p2) || inode(t, p2) != inode(t, ps) {
			t.Errorf("layer %s is not one file for the two projects and the shared store", d)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Errorf("reading layer %s back: %v", d, err)
		}
		rc.Close()
	}
}

// A shared blob altered on disk is never taken in: the pin copies the
// image from the engine again, to the same digest, and the shared store
// forgets the copy it can no longer vouch for.
func TestSharedStoreRefusesAnAlteredBlob(t *testing.T) {
	tag := engineTag(t, "altered in the shared store ")
	eng := &savingEngine{ImageEngine: engine(t)}
	first, second, shared := sharedProjects(t)
	stack := imageStack(map[string]string{"db": tag}, nil)
	a1 := mustPin(t, first, stack, eng)["db"]
	layers := layersOf(t, first, a1.Digest)
	d, _ := layers[len(layers)-1].Digest()
	// Altered in place, same size: the first project's blob is the same
	// file, so it is altered too (and its own reads refuse it).
	f, err := os.OpenFile(filepath.Join(shared, "blobs", d.Algorithm, d.Hex), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("X"), 600); err != nil {
		t.Fatal(err)
	}
	f.Close()

	a2 := mustPin(t, second, stack, eng)["db"]
	if n := eng.saves.Load(); n != 2 {
		t.Errorf("%d saves, want the altered copy refused and the image saved again", n)
	}
	if a2.Digest != a1.Digest {
		t.Errorf("digest %s, want %s", a2.Digest, a1.Digest)
	}
	layers2 := layersOf(t, second, a2.Digest)
	rc, err := layers2[len(layers2)-1].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Errorf("the second project's copy reads back altered: %v", err)
	}
	// The shared store holds the sound copy now: a third project takes it
	// with no save.
	third := New(Options{Store: newFakeStore(), Dir: filepath.Join(t.TempDir(), "artifacts"), Shared: shared})
	a3 := mustPin(t, third, stack, eng)["db"]
	if n := eng.saves.Load(); n != 2 || a3.Digest != a1.Digest {
		t.Errorf("third project: %d saves, digest %s; want the healed shared copy (2 saves), %s", n, a3.Digest, a1.Digest)
	}
}

// Pruning drops the shared blobs no project links any more, a day after
// the last one let go, and the copies that name them; blobs a project
// still holds stay, however old.
func TestSharedStorePrunesWhatNoProjectHolds(t *testing.T) {
	tag := engineTag(t, "pruned ")
	first, second, shared := sharedProjects(t)
	a := mustPin(t, first, imageStack(map[string]string{"db": tag}, nil), engine(t))["db"]
	blobs := func() []string {
		m, _ := filepath.Glob(filepath.Join(shared, "blobs", "sha256", "*"))
		return m
	}
	entries := func() []string {
		m, _ := filepath.Glob(filepath.Join(shared, "engine", "*.json"))
		return m
	}
	if len(blobs()) < 2 || len(entries()) != 1 {
		t.Fatalf("shared store after a copy: %v %v", blobs(), entries())
	}
	later := time.Now().Add(sharedKeep + sharedPruneEvery + time.Hour)
	_ = os.Remove(filepath.Join(shared, "pruned"))
	second.opts.Shared = shared
	second.pruneShared(later)
	if len(blobs()) < 2 || len(entries()) != 1 {
		t.Errorf("pruning removed what a project still holds: %v %v", blobs(), entries())
	}
	if _, err := first.Image(a.Digest); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(first.opts.Dir); err != nil {
		t.Fatal(err)
	}
	second.pruneShared(later) // pruned a moment ago: nothing happens
	if len(entries()) != 1 {
		t.Errorf("pruned again within %s", sharedPruneEvery)
	}
	_ = os.Remove(filepath.Join(shared, "pruned"))
	second.pruneShared(later)
	if len(blobs()) != 0 || len(entries()) != 0 {
		t.Errorf("after the project went: blobs %v, copies %v; want none", blobs(), entries())
	}
}

// A shared copy whose manifest names other layers than the engine's
// config does (planted, or damaged) is refused, though every blob it
// names hashes right.
func TestSharedStoreRefusesLayersTheConfigDoesNotName(t *testing.T) {
	tag := engineTag(t, "planted layers ")
	other := engineTag(t, "another image ")
	eng := &savingEngine{ImageEngine: engine(t)}
	first, second, shared := sharedProjects(t)
	arts := mustPin(t, first, imageStack(map[string]string{"db": tag, "web": other}, nil), eng)
	manifest := func(digest string) *v1.Manifest {
		img, err := first.Image(digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// db's copy, with web's layers: every blob is in the shared store.
	planted := manifest(arts["db"].Digest)
	planted.Layers = manifest(arts["web"].Digest).Layers
	raw, err := json.Marshal(planted)
	if err != nil {
		t.Fatal(err)
	}
	entry := filepath.Join(shared, "engine", planted.Config.Digest.Hex+".json")
	if err := os.WriteFile(entry, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	saves := eng.saves.Load()
	got := mustPin(t, second, imageStack(map[string]string{"db": tag}, nil), eng)
	if eng.saves.Load() != saves+1 || got["db"].Digest != arts["db"].Digest {
		t.Errorf("pinned %s with %d more saves; want %s, saved from the engine again", got["db"].Digest, eng.saves.Load()-saves, arts["db"].Digest)
	}
}

// A shared blob that is a symlink is refused even when what it points at
// hashes right (that could change once checked), and removed.
func TestSharedStoreRefusesASymlinkedBlob(t *testing.T) {
	tag := engineTag(t, "symlinked ")
	eng := &savingEngine{ImageEngine: engine(t)}
	first, second, shared := sharedProjects(t)
	stack := imageStack(map[string]string{"db": tag}, nil)
	arts := mustPin(t, first, stack, eng)
	d, _ := layersOf(t, first, arts["db"].Digest)[0].Digest()
	blob := filepath.Join(shared, "blobs", d.Algorithm, d.Hex)
	elsewhere := filepath.Join(t.TempDir(), "layer")
	if err := os.Rename(blob, elsewhere); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, blob); err != nil {
		t.Fatal(err)
	}
	got := mustPin(t, second, stack, eng)
	if n := eng.saves.Load(); n != 2 || got["db"].Digest != arts["db"].Digest {
		t.Errorf("%d saves, digest %s; want the symlinked copy refused and the image saved again", n, got["db"].Digest)
	}
	fi, err := os.Lstat(second.blobPath(d))
	if err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the project's blob: %v, %v; want a regular file", fi, err)
	}
	if fi, err := os.Lstat(blob); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		t.Error("the symlink is still in the shared store")
	}
}
