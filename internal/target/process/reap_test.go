package process

import (
	"os"
	"path/filepath"
	"slices"
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
	reaped, err := Reap(t.Context(), st)
	if err != nil {
		t.Fatal(err)
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
