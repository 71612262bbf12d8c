package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// stateGitignore is written into a state directory ladder creates. The
// directory holds the store, the artifact layout, signing keys and agent
// files: machine-local state that must never be committed, so it ignores
// itself, as build caches do, and nobody has to remember to add it to the
// project's .gitignore.
const stateGitignore = "# Written by ladder: this directory is local state (store, artifacts, keys).\n*\n"

// makeStateDir creates the state directory if it is missing and, when it
// does, writes its .gitignore. An existing directory is left as it is, so
// a .gitignore someone removed or changed on purpose stays so.
func makeStateDir(dir string) error {
	_, err := os.Stat(dir)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(stateGitignore), 0o644)
}
