//go:build !linux && !darwin

package build

import "os"

// sysStat has no portable change time or inode to offer here; size and
// mtime alone decide whether a file changed.
func sysStat(fi os.FileInfo) (ctime int64, ino uint64) { return 0, 0 }
