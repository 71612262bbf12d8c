// Package proc identifies ladder processes so that one ladder command can
// tell whether the process that wrote a record (a release in progress, a
// supervised instance) is still alive, even after its PID was reused.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Self returns this process's owner string: "PID/STARTTIME", where
// STARTTIME is the kernel's start time of the process in clock ticks since
// boot, which a recycled PID does not share.
func Self() string {
	pid := os.Getpid()
	return fmt.Sprintf("%d/%d", pid, startTime(pid))
}

// Owner is Self qualified by this host's name, "HOST:PID/STARTTIME": what
// a record that other machines read too (a process instance in a shared
// PostgreSQL store) names its process by, since a PID means nothing on
// another host.
func Owner() string { return host() + ":" + Self() }

// Here splits an owner from Owner (or Self, as records made before hosts
// were recorded have it) into its Self part and whether it names a
// process of this host. A process of another host is neither alive nor
// dead to this one: only a command on its host can tell.
func Here(owner string) (self string, here bool) {
	h, self, qualified := strings.Cut(owner, ":")
	if !qualified {
		return owner, true
	}
	return self, h == host()
}

// host is this machine's name, read once: Here runs for every instance
// record each time a site is inspected.
var host = sync.OnceValue(func() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
})

// Alive reports whether the process named by owner (from Self) still runs.
func Alive(owner string) bool {
	pidStr, stStr, ok := strings.Cut(owner, "/")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return false
	}
	st, err := strconv.ParseUint(stStr, 10, 64)
	if err != nil {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	state, start := stat(pid)
	// A zombie (Z) or dying (X) process still answers signal 0 until its
	// parent reaps it, yet it does no work and holds no lock: a killed
	// agent whose parent never waits for it would otherwise keep its
	// releases "progressing" forever.
	if state == 'Z' || state == 'X' || state == 0 {
		return false
	}
	return start == st
}

// Running reports whether pid names a live, non-zombie process.
func Running(pid int) bool {
	if pid <= 0 {
		return false
	}
	state, _ := stat(pid)
	return state != 0 && state != 'Z' && state != 'X'
}

// PID returns the PID part of an owner string, or 0.
func PID(owner string) int {
	pidStr, _, _ := strings.Cut(owner, "/")
	pid, _ := strconv.Atoi(pidStr)
	return pid
}

// startTime reads field 22 of /proc/PID/stat; 0 when unreadable.
func startTime(pid int) uint64 {
	_, st := stat(pid)
	return st
}

// stat reads the state (field 3) and start time (field 22) of
// /proc/PID/stat in one read; state is 0 when the file is unreadable.
func stat(pid int) (state byte, start uint64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	// The command name (field 2) may hold spaces; fields resume after ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, 0
	}
	st, _ := strconv.ParseUint(fields[19], 10, 64)
	return fields[0][0], st
}

// Environ returns the environment of a running process, or nil.
func Environ(pid int) map[string]string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil
	}
	env := map[string]string{}
	for _, kv := range bytes.Split(b, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if ok {
			env[k] = v
		}
	}
	return env
}
