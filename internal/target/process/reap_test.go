package process

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/proc"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

// Reap forgets the instances of this host's ladder processes that are
// gone (owners recorded with the host, or before hosts were), never
// another host's: in a store two machines share, a PID here says nothing
// of a process there.
func TestReapLeavesOtherHostsInstances(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	host, _ := os.Hostname()
	const gone = "999999999/1" // no such PID
	owners := map[string]string{
		"there":  "another-host.example.net:" + gone,
		"here":   host + ":" + gone,
		"legacy": gone,
		"alive":  proc.Owner(),
	}
	for slot, owner := range owners {
		in := store.Instance{Env: "dev", Site: "default", Service: "api", Slot: slot, PID: 999999999, Port: 1, Owner: owner, Started: time.Now()}
		if err := st.PutInstance(t.Context(), in); err != nil {
			t.Fatal(err)
		}
	}
	reaped, stopped, err := Reap(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	if stopped != 0 {
		t.Errorf("stopped %d processes, want none (no record's PID runs an instance)", stopped)
	}
	var slots []string
	for _, in := range reaped {
		slots = append(slots, in.Slot)
	}
	slices.Sort(slots)
	if !slices.Equal(slots, []string{"here", "legacy"}) {
		t.Errorf("reaped %v, want this host's gone owners: [here legacy]", slots)
	}
	left, err := st.ListInstances(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	slots = nil
	for _, in := range left {
		slots = append(slots, in.Slot)
	}
	slices.Sort(slots)
	if !slices.Equal(slots, []string{"alive", "there"}) {
		t.Errorf("records left %v, want [alive there]", slots)
	}
}

// An instance its gone ladder left running is stopped, and counted as
// stopped; its record goes with it.
func TestReapStopsAnOrphanAndCountsIt(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	orphan := exec.Command("sleep", "60")
	orphan.Env = append(os.Environ(), "LADDER_SLOT=orphan", "LADDER_SERVICE=api")
	orphan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- orphan.Wait() }()
	t.Cleanup(func() { _ = orphan.Process.Kill() })
	host, _ := os.Hostname()
	in := store.Instance{Env: "dev", Site: "default", Service: "api", Slot: "orphan", PID: orphan.Process.Pid, Port: 1,
		Owner: host + ":999999999/1", Started: time.Now()}
	if err := st.PutInstance(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	reaped, stopped, err := Reap(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	if len(reaped) != 1 || stopped != 1 {
		t.Errorf("reaped %d, stopped %d; want the orphan, stopped", len(reaped), stopped)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Error("the orphan still runs")
	}
}
