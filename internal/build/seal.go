package build

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// A treeSeal is what the file system said of an unpacked tree at a moment
// its content was known to be the image's: each entry's inode, change
// time, size and mode, keyed by its path under the tree (the manifest
// beside the tree under its own name). Writing to a file, replacing it,
// renaming over it or changing its mode moves its change time or its
// inode, and neither can be set back by an unprivileged user, so a tree
// that still matches its seal still holds what was written or hashed:
// the process that sealed it can take it again after a walk of lstat
// calls instead of hashing every byte. A seal lives only in the memory
// of the process that made it; a tree found on disk is hashed once (see
// checkTree) before it is sealed.
//
// The change time is the kernel's coarse clock, so a write landing in the
// same tick as the seal and keeping the size could pass; the seal is
// taken right after the tree is written or hashed, which leaves that
// tick as the only window, where a time-bound trust would leave seconds.
type treeSeal map[string]entrySeal

type entrySeal struct {
	ino   uint64
	ctime int64
	size  int64
	mode  fs.FileMode
}

// manifestKey is the seal's key for the manifest beside the tree: a path
// no tree entry can have.
const manifestKey = "/manifest"

func sealOf(fi fs.FileInfo) entrySeal {
	ctime, ino := sysStat(fi)
	return entrySeal{ino: ino, ctime: ctime, size: fi.Size(), mode: fi.Mode()}
}

// sealTree records the seal of the tree at dir and its manifest. It
// reports ok false where the file system gives no inode or change time
// (the tree is then hashed on every use).
func sealTree(dir string) (seal treeSeal, ok bool, err error) {
	seal = treeSeal{}
	fi, err := os.Lstat(manifestPath(dir))
	if err != nil {
		return nil, false, err
	}
	s := sealOf(fi)
	if s.ino == 0 && s.ctime == 0 {
		return nil, false, nil
	}
	seal[manifestKey] = s
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		seal[filepath.ToSlash(rel)] = sealOf(fi)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return seal, true, nil
}

// check reports a way the tree at dir no longer matches the seal: an
// entry added, missing, replaced, written or with another mode.
func (seal treeSeal) check(dir string) error {
	now, _, err := sealTree(dir)
	if err != nil {
		return err
	}
	for p, want := range seal {
		if got, ok := now[p]; !ok {
			return fmt.Errorf("%s: missing since it was sealed", p)
		} else if got != want {
			return fmt.Errorf("%s: changed since it was sealed", p)
		}
	}
	if len(now) != len(seal) {
		return fmt.Errorf("%d entries added since it was sealed", len(now)-len(seal))
	}
	return nil
}

// maxSealed bounds the entries the seals of one Memo hold; beyond it the
// oldest seals are dropped (their trees are hashed again on next use).
const maxSealed = 1 << 20

// sealed returns the seal of digest's tree; the caller holds rootfsMu.
func (m *Memo) sealed(digest string) (treeSeal, bool) {
	s, ok := m.seals[digest]
	return s, ok
}

// putSeal keeps seal for digest's tree, dropping the oldest seals held
// beyond maxSealed entries; the caller holds rootfsMu.
func (m *Memo) putSeal(digest string, seal treeSeal) {
	m.dropSeal(digest)
	if len(seal) > maxSealed {
		return
	}
	if m.seals == nil {
		m.seals = map[string]treeSeal{}
	}
	for m.sealedEntries+len(seal) > maxSealed && len(m.sealOrder) > 0 {
		m.dropSeal(m.sealOrder[0])
	}
	m.seals[digest] = seal
	m.sealOrder = append(m.sealOrder, digest)
	m.sealedEntries += len(seal)
}

// dropSeal forgets digest's seal; the caller holds rootfsMu.
func (m *Memo) dropSeal(digest string) {
	s, ok := m.seals[digest]
	if !ok {
		return
	}
	delete(m.seals, digest)
	m.sealedEntries -= len(s)
	for i, d := range m.sealOrder {
		if d == digest {
			m.sealOrder = append(m.sealOrder[:i], m.sealOrder[i+1:]...)
			break
		}
	}
}
