package build

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ladderhq/ladder/internal/proc"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// Rootfs unpacks the image of digest once into Dir/rootfs/<hex> and returns
// that directory and the image's config (entrypoint, cmd, env, workdir,
// exposed ports). The directory appears whole or not at all: the image is
// unpacked into a temp directory that is then renamed. Later calls return
// the existing directory without unpacking, once it checks out against the
// image: a tree this process wrote or already hashed is checked against
// its seal (see treeSeal), any other is hashed file by file (see
// CheckRootfs). An unpacked tree altered on disk is set aside and unpacked
// afresh, so what runs is always what the digest names. Treat the
// directory as read-only; it is shared by every run of the digest.
func (b *Builder) Rootfs(ctx context.Context, digest string) (string, *v1.Config, error) {
	return b.rootfs(ctx, digest, false)
}

// unpackAhead unpacks the image of digest in the background (see
// Options.Unpack). The Rootfs that starts it waits for the unpack and
// checks the tree against the seal taken as it was written, which costs
// a walk of lstat calls rather than hashing what was just written.
func (b *Builder) unpackAhead(digest string) {
	b.ahead.Add(1)
	go func() {
		defer b.ahead.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		begun := time.Now()
		if _, _, err := b.rootfs(ctx, digest, true); err != nil {
			b.opts.logger().Debug("unpacking ahead", "digest", digest, "err", err)
			return
		}
		b.opts.logger().Debug("unpacked ahead", "digest", snapshot.Short(digest), "took", time.Since(begun))
	}()
}

func (b *Builder) rootfs(ctx context.Context, digest string, ahead bool) (string, *v1.Config, error) {
	if !snapshot.ValidDigest(digest) {
		return "", nil, fmt.Errorf("rootfs: malformed digest %q", digest)
	}
	img, err := b.Image(digest)
	if err != nil {
		return "", nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", nil, fmt.Errorf("image %s: reading its config: %w", digest, err)
	}
	cfg := cf.Config.DeepCopy()

	root := filepath.Join(b.opts.Dir, "rootfs")
	dir := filepath.Join(root, strings.TrimPrefix(digest, "sha256:"))
	m := b.memo
	m.rootfsMu.Lock()
	defer m.rootfsMu.Unlock()
	if isDir(dir) {
		if ahead {
			return dir, cfg, nil // checked when it is used
		}
		if seal, ok := m.sealed(digest); ok {
			err := seal.check(dir)
			if err == nil {
				return dir, cfg, nil
			}
			// Hashing says whether the change altered what runs.
			b.opts.logger().Debug("unpacked image changed since it was sealed: hashing it", "digest", digest, "err", err)
			m.dropSeal(digest)
		}
		want, err := b.expectedManifest(ctx, img, digest)
		if err != nil {
			return "", nil, err
		}
		// Sealed before hashing and checked again after, so that what
		// the seal names is what was hashed.
		seal, sealable, serr := sealTree(dir)
		err = checkTree(dir, want)
		if err == nil {
			if serr == nil && sealable && seal.check(dir) == nil {
				m.putSeal(digest, seal)
			}
			return dir, cfg, nil
		}
		var altered *RootfsAlteredError
		if !errors.As(err, &altered) {
			return "", nil, err
		}
		b.opts.logger().Warn("unpacked image altered on disk: unpacking it again", "digest", digest, "err", err)
		if err := b.setAside(root, dir, digest); err != nil {
			return "", nil, fmt.Errorf("%w; setting it aside: %v", altered, err)
		}
	}
	tmp, err := b.mkTemp(root, ".unpack-"+snapshot.Short(digest)+"-")
	if err != nil {
		return "", nil, err
	}
	man, err := unpack(ctx, img, digest, tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return "", nil, fmt.Errorf("image %s: unpacking: %w", digest, err)
	}
	m.manifests.Store(digest, man)
	// MkdirTemp made tmp 0700; the rootfs is world-readable like an image's.
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", nil, err
	}
	// The manifest first: a tree without one does not check out, and is
	// unpacked again.
	if err := writeManifest(manifestPath(dir), man); err != nil {
		os.RemoveAll(tmp)
		return "", nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		// Another ladder process may have won the race to unpack it.
		if isDir(dir) && checkTree(dir, man) == nil {
			return dir, cfg, nil
		}
		return "", nil, err
	}
	// What was just written is the image's: seal it as it stands.
	if seal, ok, err := sealTree(dir); err == nil && ok {
		m.putSeal(digest, seal)
	}
	return dir, cfg, nil
}

// setAside moves an altered tree out of the way (running instances keep
// their open files) and removes it.
func (b *Builder) setAside(root, dir, digest string) error {
	aside := filepath.Join(root, ".altered-"+snapshot.Short(digest)+"-@"+strings.Replace(proc.Self(), "/", ".", 1)+"@")
	if err := os.Rename(dir, aside); err != nil {
		return err
	}
	_ = removeTree(aside)
	return nil
}

// CheckRootfs compares the unpacked tree of digest, if there is one, with
// the image: every file's mode, size and SHA-256, every symlink, nothing
// added or missing, and the manifest beside it. It reports whether a tree
// was there to check; a difference is a *RootfsAlteredError.
func (b *Builder) CheckRootfs(ctx context.Context, digest string) (bool, error) {
	if !snapshot.ValidDigest(digest) {
		return false, fmt.Errorf("rootfs: malformed digest %q", digest)
	}
	dir := filepath.Join(b.opts.Dir, "rootfs", strings.TrimPrefix(digest, "sha256:"))
	if !isDir(dir) {
		return false, nil
	}
	img, err := b.Image(digest)
	if err != nil {
		return true, err
	}
	want, err := b.expectedManifest(ctx, img, digest)
	if err != nil {
		return true, err
	}
	return true, checkTree(dir, want)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// unpack writes the flattened file system of img under dir and returns its
// manifest, hashed as it is written. All writes go through an os.Root, so
// no entry (".." names, symlinks pointing out) can write outside dir.
// Ownership is not restored (ladder does not run as root); device files
// and FIFOs are skipped.
func unpack(ctx context.Context, img v1.Image, digest, dir string) (*rootfsManifest, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return imageEntries(ctx, img, digest, func(hdr *tar.Header, name string, r io.Reader) error {
		mode := fs.FileMode(hdr.Mode).Perm()
		if parent := path.Dir(name); parent != "." {
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return err
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			// Owner-writable while unpacking, or later entries cannot be
			// written into it.
			return root.MkdirAll(name, mode|0o700)
		case tar.TypeReg:
			f, err := root.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, r)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			// The umask may have narrowed the mode OpenFile used.
			return root.Chmod(name, mode)
		case tar.TypeSymlink:
			return root.Symlink(hdr.Linkname, name)
		case tar.TypeLink:
			target := strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/")
			return root.Link(target, name)
		}
		return nil
	})
}
