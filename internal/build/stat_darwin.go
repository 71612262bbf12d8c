package build

import (
	"os"
	"syscall"
)

// sysStat returns the change time and inode of fi. Unlike mtime, ctime
// cannot be set by tools (rsync -t, cp -p, touch -d), so recording it
// catches a file replaced by one with the same size and mtime.
func sysStat(fi os.FileInfo) (ctime int64, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctimespec.Nano(), uint64(st.Ino)
	}
	return 0, 0
}

// sysLinks returns fi's hard link count and change time (which a link
// made or removed updates); 0 links when unknown.
func sysLinks(fi os.FileInfo) (links uint64, ctime int64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink), st.Ctimespec.Nano()
	}
	return 0, 0
}
