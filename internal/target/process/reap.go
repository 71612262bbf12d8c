package process

import (
	"context"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/internal/proc"
	"github.com/ladderhq/ladder/internal/store"
)

// Reap stops the instances that a ladder process of this host which is no
// longer running left behind, and forgets their records. An instance
// record is only acted on when the process under its PID still carries
// the instance's LADDER_SLOT and LADDER_SERVICE, so a recycled PID is
// never signalled. It returns the records it forgot, and how many of them
// still had a process to stop (the others ended with their ladder).
func Reap(ctx context.Context, st store.Store) (reaped []store.Instance, stopped int, err error) {
	all, err := st.ListInstances(ctx, "", "")
	if err != nil {
		return nil, 0, err
	}
	for _, in := range all {
		// Another host's instances are that host's to reap.
		if self, here := proc.Here(in.Owner); !here || proc.Alive(self) {
			continue
		}
		if in.PID > 0 {
			env := proc.Environ(in.PID)
			if env["LADDER_SLOT"] == in.Slot && env["LADDER_SERVICE"] == in.Service {
				killGroup(in.PID)
				stopped++
			}
		}
		if err := st.DeleteInstance(ctx, in.Env, in.Site, in.Service, in.Slot); err != nil {
			return reaped, stopped, err
		}
		reaped = append(reaped, in)
	}
	return reaped, stopped, nil
}

// killGroup ends a process group: SIGTERM, then SIGKILL if it lingers.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	for range 50 {
		if !proc.Running(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
