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
		return st.Ctim.Nano(), uint64(st.Ino)
	}
	return 0, 0
}
