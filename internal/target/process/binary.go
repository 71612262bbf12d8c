package process

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// binaryChange says what became of the executable process pid was
// started from: "" while the file at that path is still the one it runs
// (or when that cannot be told), else "replaced on disk: PATH" or
// "removed from disk: PATH". A native instance runs its artifact's
// binary from the unpacked artifact; a binary swapped there (a hotfix
// copied in, a file removed) makes the process run something no release
// recorded, or makes its next start do so: drift.
func binaryChange(pid int) string {
	if pid <= 0 {
		return ""
	}
	proc := "/proc/" + strconv.Itoa(pid)
	// The target starts each instance by the absolute path of its
	// binary: argv[0] is where the binary was.
	cmdline, err := os.ReadFile(proc + "/cmdline")
	if err != nil {
		return ""
	}
	path, _, _ := bytes.Cut(cmdline, []byte{0})
	started := string(path)
	if !filepath.IsAbs(started) {
		return ""
	}
	var running, onDisk syscall.Stat_t
	if err := syscall.Stat(proc+"/exe", &running); err != nil {
		return ""
	}
	if err := syscall.Stat(started, &onDisk); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Sprintf("removed from disk: %s", started)
		}
		return ""
	}
	if running.Dev != onDisk.Dev || running.Ino != onDisk.Ino {
		return fmt.Sprintf("replaced on disk: %s", started)
	}
	return ""
}
