package process

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ladderhq/ladder/internal/render"
)

// stopSignal is the signal that asks svc's processes to stop: the
// stack's stop_signal ("SIGINT", "INT" or a number), else SIGTERM.
func stopSignal(svc render.Service) syscall.Signal {
	if svc.Runtime == nil || svc.Runtime.StopSignal == "" {
		return syscall.SIGTERM
	}
	return parseSignal(svc.Runtime.StopSignal)
}

func parseSignal(s string) syscall.Signal {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return syscall.Signal(n)
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig
	}
	return syscall.SIGTERM
}
