package build

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ladderhq/ladder/internal/atomicfile"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// The shared store is what the artifact stores of every project on a
// machine have in common: the images copied out of the Docker engine.
// Copying one means `docker save`, which for a database image is seconds
// of the engine's time and hundreds of megabytes, and every project that
// runs PostgreSQL would otherwise make that copy again. A copy, once made
// in any project, is remembered under the engine's image ID (a digest of
// the image's config, which names every layer's digest) and its blobs are
// hard links to the project's: they cost no space while a project holds
// them. The next project's pin of the same engine image links them into
// its own store after hashing them again, so a damaged or altered shared
// blob is never taken in; it falls back to the engine's copy instead.
//
// Layout, under Options.Shared:
//
//	blobs/sha256/HEX   hard links to blobs of projects' artifact stores
//	engine/HEX.json    the manifest ladder made for engine image sha256:HEX
//	pruned             its mtime is when the store was last pruned
const (
	sharedPruneEvery = 24 * time.Hour
	// sharedKeep is how long a blob no project links any more is kept:
	// a project checked out again the next day still finds it.
	sharedKeep = 24 * time.Hour
	// sharedKeepUnlinked bounds the age of blobs where link counts are
	// unknown (platforms without them).
	sharedKeepUnlinked = 7 * 24 * time.Hour
)

// EnvShared names the shared store's directory; "off" turns it off.
const EnvShared = "LADDER_SHARED_DIR"

// DefaultShared is the shared store of this user: $LADDER_SHARED_DIR, or
// ladder/shared in the user's cache directory (~/.cache on Linux); ""
// (none) when LADDER_SHARED_DIR is "off" or there is no cache directory.
func DefaultShared() string {
	if v := os.Getenv(EnvShared); v != "" {
		if v == "off" {
			return ""
		}
		return v
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "ladder", "shared")
}

func (b *Builder) sharedEntry(engineID string) (string, bool) {
	if b.opts.Shared == "" || !snapshot.ValidDigest(engineID) {
		return "", false
	}
	return filepath.Join(b.opts.Shared, "engine", strings.TrimPrefix(engineID, "sha256:")+".json"), true
}

func (b *Builder) sharedBlob(h v1.Hash) string {
	return filepath.Join(b.opts.Shared, "blobs", h.Algorithm, h.Hex)
}

// fromShared puts the copy of engine image engineID that the shared
// store remembers into this project's artifact store, and returns its
// manifest digest and the size of its layers; ok is false when the
// shared store has no such copy, or a blob of it is missing or altered.
func (b *Builder) fromShared(engineID, service string) (digest string, size int64, ok bool) {
	entry, ok := b.sharedEntry(engineID)
	if !ok {
		return "", 0, false
	}
	raw, err := readBounded(entry, maxSharedManifest)
	if err != nil {
		return "", 0, false
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil || m.Config.Digest.String() != engineID {
		b.dropShared(entry, "its manifest does not describe the image")
		return "", 0, false
	}
	// The config first: it is the engine's image (its digest is the image
	// ID), and the layers must be the ones it names, as a copy from the
	// engine checks, before any layer is read.
	if err := b.linkShared(m.Config); err != nil {
		b.dropShared(entry, err.Error())
		return "", 0, false
	}
	cf, err := readConfig(b.blobPath(m.Config.Digest))
	if err != nil || len(cf.RootFS.DiffIDs) != len(m.Layers) {
		b.dropShared(entry, "its layers are not the ones its config names")
		return "", 0, false
	}
	for i, l := range m.Layers {
		if l.Digest != cf.RootFS.DiffIDs[i] || l.MediaType != types.OCIUncompressedLayer {
			b.dropShared(entry, "its layers are not the ones its config names")
			return "", 0, false
		}
		if err := b.linkShared(l); err != nil {
			b.dropShared(entry, err.Error())
			return "", 0, false
		}
		size += l.Size
	}
	d, err := b.storeManifest(raw, service)
	if err != nil {
		return "", 0, false
	}
	now := time.Now()
	_ = os.Chtimes(entry, now, now)
	return d, size, true
}

// maxSharedManifest bounds a shared copy's manifest: one config and a
// descriptor per layer take a few kilobytes.
const maxSharedManifest = 1 << 20

// readBounded reads path, refusing one longer than limit.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("%s: longer than %d bytes", path, limit)
	}
	return b, err
}

func readConfig(path string) (*v1.ConfigFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return v1.ParseConfigFile(f)
}

// linkShared makes blob d of the shared store one of this project's,
// after checking its size and hash: a hard link where the two are on one
// file system, a copy otherwise.
func (b *Builder) linkShared(d v1.Descriptor) error {
	dst := b.blobPath(d.Digest)
	if fi, err := os.Stat(dst); err == nil && fi.Size() == d.Size {
		return nil
	}
	src := b.sharedBlob(d.Digest)
	// Only a regular file: a link to the blob is made, never to what a
	// symlink points at, which could change after it was checked. A blob
	// that fails a check goes, so that the next copy from the engine
	// takes its place in the shared store.
	if fi, err := os.Lstat(src); err != nil || !fi.Mode().IsRegular() || fi.Size() != d.Size {
		_ = os.Remove(src)
		return fmt.Errorf("blob %s: not a regular file of %d bytes in the shared store", d.Digest, d.Size)
	}
	sum, st, err := hashFile(src)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if st.Size != d.Size || sum != d.Digest.Hex {
		_ = os.Remove(src)
		return fmt.Errorf("blob %s: %w (it hashes to sha256:%s, %d bytes)", d.Digest, ErrBlobAltered, sum, st.Size)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	err = os.Link(src, dst)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	// Another file system (or no hard links): copy, hashing again.
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return b.writeBlob(d.Digest, f, nil)
}

// share remembers the copy of engine image engineID just made (manifest
// raw, whose blobs are in this project's store) in the shared store. It
// is best effort: a store on another file system than the shared one, or
// any error, leaves the shared store as it was.
func (b *Builder) share(engineID string, raw []byte, m v1.Manifest) {
	entry, ok := b.sharedEntry(engineID)
	if !ok {
		return
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		dst := b.sharedBlob(d.Digest)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return
		}
		if err := os.Link(b.blobPath(d.Digest), dst); err != nil && !errors.Is(err, fs.ErrExist) {
			// Expected where the two are on different file systems.
			b.opts.logger().Debug("not sharing the engine's image copy", "shared", b.opts.Shared, "err", err)
			return
		}
	}
	if err := os.MkdirAll(filepath.Dir(entry), 0o700); err != nil {
		return
	}
	if err := atomicfile.WriteCache(entry, raw, 0o600); err != nil {
		b.opts.logger().Warn("not sharing the engine's image copy", "shared", b.opts.Shared, "err", err)
		return
	}
	b.pruneShared(time.Now())
}

// dropShared forgets a shared copy that did not check out; the pin
// copies the image from the engine instead.
func (b *Builder) dropShared(entry, why string) {
	b.opts.logger().Warn("a shared image copy did not check out: copying from the engine instead", "copy", entry, "why", why)
	_ = os.Remove(entry)
}

// pruneShared, at most once per sharedPruneEvery, removes the shared
// blobs that no project's store links any more (and the copies that name
// them) once sharedKeep has passed since the last project let go.
func (b *Builder) pruneShared(now time.Time) {
	stamp := filepath.Join(b.opts.Shared, "pruned")
	if fi, err := os.Stat(stamp); err == nil && now.Sub(fi.ModTime()) < sharedPruneEvery {
		return
	}
	if err := atomicfile.WriteCache(stamp, nil, 0o600); err != nil || os.Chtimes(stamp, now, now) != nil {
		return
	}
	blobs := filepath.Join(b.opts.Shared, "blobs", "sha256")
	ents, _ := os.ReadDir(blobs)
	gone := map[string]bool{}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		links, changed := sysLinks(fi)
		old := links == 1 && now.Sub(time.Unix(0, changed)) > sharedKeep ||
			links == 0 && now.Sub(fi.ModTime()) > sharedKeepUnlinked
		if old && os.Remove(filepath.Join(blobs, e.Name())) == nil {
			gone["sha256:"+e.Name()] = true
		}
	}
	if len(gone) == 0 {
		return
	}
	dir := filepath.Join(b.opts.Shared, "engine")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var m v1.Manifest
		if json.Unmarshal(raw, &m) != nil {
			_ = os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if gone[d.Digest.String()] {
				_ = os.Remove(filepath.Join(dir, e.Name()))
				break
			}
		}
	}
}
