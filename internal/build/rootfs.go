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

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// Rootfs unpacks the image of digest once into Dir/rootfs/<hex> and returns
// that directory and the image's config (entrypoint, cmd, env, workdir,
// exposed ports). The directory appears whole or not at all: the image is
// unpacked into a temp directory that is then renamed. Later calls return
// the existing directory without unpacking; treat it as read-only, it is
// shared by every run of the digest.
func (b *Builder) Rootfs(ctx context.Context, digest string) (string, *v1.Config, error) {
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
	if isDir(dir) {
		return dir, cfg, nil
	}
	b.rootfsMu.Lock()
	defer b.rootfsMu.Unlock()
	if isDir(dir) {
		return dir, cfg, nil
	}
	tmp, err := b.mkTemp(root, ".unpack-"+snapshot.Short(digest)+"-")
	if err != nil {
		return "", nil, err
	}
	if err := unpack(ctx, img, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", nil, fmt.Errorf("image %s: unpacking: %w", digest, err)
	}
	// MkdirTemp made tmp 0700; the rootfs is world-readable like an image's.
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		// Another ladder process may have won the race to unpack it.
		if isDir(dir) {
			return dir, cfg, nil
		}
		return "", nil, err
	}
	return dir, cfg, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// unpack writes the flattened file system of img under dir. All writes go
// through an os.Root, so no entry (".." names, symlinks pointing out) can
// write outside dir. Ownership is not restored (ladder does not run as
// root); device files and FIFOs are skipped.
func unpack(ctx context.Context, img v1.Image, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if name == "" {
			continue
		}
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
			if err := root.MkdirAll(name, mode|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := root.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			// The umask may have narrowed the mode OpenFile used.
			if err := root.Chmod(name, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return err
			}
		case tar.TypeLink:
			target := strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/")
			if err := root.Link(target, name); err != nil {
				return err
			}
		}
	}
}
