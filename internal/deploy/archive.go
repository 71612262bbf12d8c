package deploy

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ladderhq/ladder/internal/atomicfile"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// ArchivedStack returns the stack definition archived for hash (see
// MakeSnapshot): what a snapshot made from it carries to another machine.
func ArchivedStack(stateDir, hash string) ([]byte, error) {
	b, err := os.ReadFile(stackArchive(stateDir, hash))
	if err != nil {
		return nil, fmt.Errorf("the stack definition %s is not archived in %s: %w", snapshot.Short(hash), stateDir, err)
	}
	return b, nil
}

// ImportStack archives a stack definition brought from elsewhere under
// hash, as MakeSnapshot would have. It is checked against hash when a
// snapshot is first rendered from it (ProjectFor); an archive that exists
// already is kept.
func ImportStack(stateDir, hash string, data []byte) error {
	// A stack hash is a sha256 in hex, as a snapshot ID is: nothing else
	// may become a file name here.
	if !snapshot.ValidID(hash) {
		return fmt.Errorf("%q is not a stack hash", hash)
	}
	path := stackArchive(stateDir, hash)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}

// DropStack removes an imported archive that did not check out.
func DropStack(stateDir, hash string) error {
	return os.Remove(stackArchive(stateDir, hash))
}
