//go:build unix

package sqlite

import (
	"fmt"
	"os"
	"syscall"
)

// lockOpen serialises the setup part of Open (identity check, backup,
// migrations, identity record) between processes that open the same
// database at the same moment, for example two `ladder up` started
// together in a new directory. SQLite's busy handler does not cover every
// such race: a connection that read the schema and then wants to write
// while another process writes gets SQLITE_BUSY at once. The lock is an
// advisory flock on a file beside the database; the kernel releases it if
// the process dies, so it can never be left held.
func lockOpen(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: open %s: lock: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
