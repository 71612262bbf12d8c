// Package atomicfile writes the files ladder keeps in its state directory
// whole or not at all: a reader sees the old content or the new, never a
// part, and two writers of one file never mix their bytes.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data, with mode perm. The data reaches the disk
// before the file takes path's name, so after a crash path holds the old
// content or the new.
func Write(path string, data []byte, perm fs.FileMode) error {
	return replace(path, data, perm, true)
}

// WriteCache is Write without waiting for the disk, for files ladder can
// compute again (caches): a reader still never sees a part of the new
// content, but after a crash the file may be old or empty.
func WriteCache(path string, data []byte, perm fs.FileMode) error {
	return replace(path, data, perm, false)
}

// Create writes a new file at path with data, with mode perm, and fails
// with an error wrapping fs.ErrExist when path exists: of several writers,
// one creates the file and the others find it, complete.
func Create(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(path, data, perm, true)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	// No hard links on this file system: an exclusive create instead,
	// which a reader may see before it is complete.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

func replace(path string, data []byte, perm fs.FileMode, sync bool) error {
	tmp, err := writeTemp(path, data, perm, sync)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeTemp writes data to a new file beside path (so that a rename or a
// link to path stays on one file system) and returns its name.
func writeTemp(path string, data []byte, perm fs.FileMode, sync bool) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if cerr := f.Chmod(perm); err == nil {
		err = cerr
	}
	if sync {
		if serr := f.Sync(); err == nil {
			err = serr
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Name(), nil
}
