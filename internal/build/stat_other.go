//go:build !linux && !darwin

package build

import "os"

// sysStat has no portable change time or inode to offer here; size and
// mtime alone decide whether a file changed.
func sysStat(fi os.FileInfo) (ctime int64, ino uint64) { return 0, 0 }

// sysLinks knows no link counts here: 0.
func sysLinks(fi os.FileInfo) (links uint64, ctime int64) { return 0, 0 }
