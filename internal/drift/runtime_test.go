package drift

import (
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/golden"
	"github.com/ladderhq/ladder/internal/render"
)

// A container whose user, stack label, read-only root, capabilities or
// limits were changed by hand is drift; the image's own labels and the
// engine's spelling of capabilities ("CAP_NET_ADMIN") are not.
func TestCompareRuntime(t *testing.T) {
	d := desired()
	web, _ := d.Service("web")
	web.Runtime = &render.Runtime{
		User: "1000", ReadOnly: true, CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"},
		Labels: map[string]string{"team": "core"},
		Limits: render.Limits{Memory: 64 << 20, CPUs: 0.5, Pids: 100},
	}
	web.Resources = &render.Resources{Memory: "128m"} // the rung's value wins
	web.Config = render.ConfigHash(*web)

	live := liveOf(d)
	in := find(t, d, live, "web", 1)
	in.Labels["team"] = "core"
	in.Labels["org.opencontainers.image.title"] = "from the image"
	in.Runtime = &Runtime{User: "1000", ReadOnly: true, CapAdd: []string{"CAP_NET_ADMIN"}, CapDrop: []string{"ALL"},
		Memory: 128 << 20, NanoCPUs: 500_000_000, Pids: 100}
	if r := Compare(d, live, opts); r.Drifted() {
		t.Fatalf("drift on a site that runs as desired:\n%s", r)
	}

	in.Labels["team"] = "other"
	in.Runtime = &Runtime{User: "root", CapAdd: []string{"CAP_NET_ADMIN", "CAP_SYS_ADMIN"}, CapDrop: []string{"ALL"},
		Memory: 1 << 30, NanoCPUs: 500_000_000}
	r := Compare(d, live, opts)
	golden.Check(t, "runtime", r.String())
	if !strings.Contains(r.String(), "runtime user") {
		t.Errorf("report:\n%s", r)
	}

	// A user the stack does not set is the image's: not drift.
	web.Runtime.User = "" // Config kept: the slot stays the same
	in.Labels["team"] = "core"
	in.Runtime = &Runtime{User: "nonroot", ReadOnly: true, CapAdd: []string{"CAP_NET_ADMIN"}, CapDrop: []string{"ALL"},
		Memory: 128 << 20, NanoCPUs: 500_000_000, Pids: 100}
	if r := Compare(d, live, opts); strings.Contains(r.String(), "runtime") {
		t.Errorf("the image's user reported as drift:\n%s", r)
	}

	// A runtime that reports no settings (local processes) is not
	// compared on them.
	delete(in.Labels, "team")
	in.Runtime = nil
	if r := Compare(d, live, opts); r.Drifted() {
		t.Errorf("settings compared on a runtime without them:\n%s", r)
	}
}
