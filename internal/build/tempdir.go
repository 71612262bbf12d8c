package build

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/proc"
)

// legacyTempAge is how old a temporary directory without an owner in its
// name (made by an older ladder) must be before a sweep removes it.
const legacyTempAge = time.Hour

// ownerInName finds the "@PID.STARTTIME@" that mkTemp puts in a name.
var ownerInName = regexp.MustCompile(`@([0-9]+)\.([0-9]+)@`)

// mkTemp makes a temporary directory under root whose name carries this
// process's identity (PID and start time, see proc.Self), after sweeping
// root once per builder. A build or unpack killed half-way leaves its
// directory behind; the name is how a later run tells one left by a dead
// process, which it removes, from one another live ladder is using.
func (b *Builder) mkTemp(root, prefix string) (string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	if _, swept := b.swept.LoadOrStore(root, true); !swept {
		sweepTemp(root, prefix[:1] == ".")
	}
	owner := strings.Replace(proc.Self(), "/", ".", 1)
	return os.MkdirTemp(root, prefix+"@"+owner+"@")
}

// sweepTemp removes the temporary directories under root whose maker is
// gone. With hidden set, only dot-names are considered (the rootfs cache
// keeps its unpacked trees beside its temporary ones).
func sweepTemp(root string, hidden bool) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if hidden != strings.HasPrefix(name, ".") || !e.IsDir() {
			continue
		}
		if m := ownerInName.FindStringSubmatch(name); m != nil {
			if !proc.Alive(m[1] + "/" + m[2]) {
				_ = removeTree(filepath.Join(root, name))
			}
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > legacyTempAge {
			_ = removeTree(filepath.Join(root, name))
		}
	}
}

// removeTree removes dir even when an unpacked image left read-only
// directories in it.
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
