package build

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/ladderhq/ladder/internal/atomicfile"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// rootfsManifest lists what an unpacked image holds: every regular file
// with its mode, size and SHA-256, every symlink with its target. It is
// derived from the image alone (the same image always gives the same
// manifest), written beside the unpacked tree as <hex>.manifest.json, and
// checked before the tree runs: a file replaced, added or removed under
// the tree, or a manifest edited to match, no longer agrees with the
// image the snapshot's digest names.
type rootfsManifest struct {
	Digest  string          `json:"digest"`
	Entries []manifestEntry `json:"entries"`
}

type manifestEntry struct {
	Path   string `json:"path"`
	Type   string `json:"type"` // "file" or "symlink"
	Mode   uint32 `json:"mode,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Link   string `json:"link,omitempty"`
}

func manifestPath(rootfsDir string) string { return rootfsDir + ".manifest.json" }

// imageEntries walks the flattened file system of img, calling file for
// each regular file with its contents (which it must read for the hash to
// be whole) and returning the manifest. Directories are not listed: the
// check looks at what can run, and a directory only holds it.
func imageEntries(ctx context.Context, img v1.Image, digest string, visit func(hdr *tar.Header, name string, r io.Reader) error) (*rootfsManifest, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	byPath := map[string]manifestEntry{}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if name == "" {
			continue
		}
		mode := uint32(fs.FileMode(hdr.Mode).Perm())
		switch hdr.Typeflag {
		case tar.TypeReg:
			h := sha256.New()
			r := io.TeeReader(tr, h)
			if visit != nil {
				if err := visit(hdr, name, r); err != nil {
					return nil, err
				}
			}
			if _, err := io.Copy(io.Discard, r); err != nil { // what visit left unread
				return nil, err
			}
			byPath[name] = manifestEntry{Path: name, Type: "file", Mode: mode, Size: hdr.Size, SHA256: hex.EncodeToString(h.Sum(nil))}
		case tar.TypeSymlink:
			if visit != nil {
				if err := visit(hdr, name, nil); err != nil {
					return nil, err
				}
			}
			byPath[name] = manifestEntry{Path: name, Type: "symlink", Link: hdr.Linkname}
		case tar.TypeLink:
			if visit != nil {
				if err := visit(hdr, name, nil); err != nil {
					return nil, err
				}
			}
			target := strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/")
			if e, ok := byPath[target]; ok {
				e.Path = name
				byPath[name] = e
			}
		case tar.TypeDir:
			if visit != nil {
				if err := visit(hdr, name, nil); err != nil {
					return nil, err
				}
			}
			delete(byPath, name)
		}
	}
	m := &rootfsManifest{Digest: digest}
	for _, e := range byPath {
		m.Entries = append(m.Entries, e)
	}
	sort.Slice(m.Entries, func(i, j int) bool { return m.Entries[i].Path < m.Entries[j].Path })
	return m, nil
}

// expectedManifest returns img's manifest, computed once per builder: the
// image is content-addressed, so what it holds never changes.
func (b *Builder) expectedManifest(ctx context.Context, img v1.Image, digest string) (*rootfsManifest, error) {
	if m, ok := b.memo.manifests.Load(digest); ok {
		return m.(*rootfsManifest), nil
	}
	m, err := imageEntries(ctx, img, digest, nil)
	if err != nil {
		return nil, fmt.Errorf("image %s: listing its files: %w", snapshot.Short(digest), err)
	}
	b.memo.manifests.Store(digest, m)
	return m, nil
}

func writeManifest(p string, m *rootfsManifest) error {
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteCache(p, b, 0o644)
}

// RootfsAlteredError says an unpacked image no longer matches its image.
type RootfsAlteredError struct {
	Digest string
	Dir    string
	// Problems lists what differs, a few at most, path first.
	Problems []string
}

func (e *RootfsAlteredError) Error() string {
	return fmt.Sprintf("artifact %s unpacked at %s does not match its image (altered on disk): %s",
		snapshot.Short(e.Digest), e.Dir, strings.Join(e.Problems, "; "))
}

// maxProblems bounds how many differences an error lists.
const maxProblems = 5

// checkTree compares the unpacked tree at dir, and the manifest written
// beside it, with want (the image's). It hashes every regular file.
func checkTree(dir string, want *rootfsManifest) error {
	altered := &RootfsAlteredError{Digest: want.Digest, Dir: dir}
	problem := func(format string, args ...any) {
		if len(altered.Problems) < maxProblems {
			altered.Problems = append(altered.Problems, fmt.Sprintf(format, args...))
		} else if len(altered.Problems) == maxProblems {
			altered.Problems = append(altered.Problems, "...")
		}
	}
	var onDisk rootfsManifest
	if b, err := os.ReadFile(manifestPath(dir)); err != nil {
		problem("its manifest %s: %v", filepath.Base(manifestPath(dir)), err)
	} else if err := json.Unmarshal(b, &onDisk); err != nil || !sameManifest(&onDisk, want) {
		problem("its manifest %s was altered", filepath.Base(manifestPath(dir)))
	}
	expect := make(map[string]manifestEntry, len(want.Entries))
	for _, e := range want.Entries {
		expect[e.Path] = e
	}
	seen := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			problem("%v", err)
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		e, ok := expect[rel]
		if !ok {
			problem("/%s: not in the image", rel)
			return nil
		}
		seen++
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if e.Type != "symlink" || err != nil || link != e.Link {
				problem("/%s: symlink changed", rel)
			}
		case d.Type().IsRegular():
			if e.Type != "file" {
				problem("/%s: a file where the image has a %s", rel, e.Type)
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				problem("/%s: %v", rel, err)
				return nil
			}
			if uint32(fi.Mode().Perm()) != e.Mode {
				problem("/%s: mode %o, want %o", rel, fi.Mode().Perm(), e.Mode)
			}
			if fi.Size() != e.Size {
				problem("/%s: content changed (%d bytes, want %d)", rel, fi.Size(), e.Size)
				return nil
			}
			sum, err := fileSHA256(p)
			if err != nil {
				problem("/%s: %v", rel, err)
			} else if sum != e.SHA256 {
				problem("/%s: content changed (sha256 %s, want %s)", rel, sum[:12], e.SHA256[:12])
			}
		default:
			problem("/%s: unexpected %s", rel, d.Type())
		}
		return nil
	})
	if err != nil {
		return err
	}
	if seen != len(expect) {
		for _, e := range want.Entries {
			if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(e.Path))); err != nil {
				problem("/%s: missing", e.Path)
			}
		}
	}
	if len(altered.Problems) > 0 {
		return altered
	}
	return nil
}

func sameManifest(a, b *rootfsManifest) bool {
	if a.Digest != b.Digest || len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		if a.Entries[i] != b.Entries[i] {
			return false
		}
	}
	return true
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
