package drift

import "github.com/ladderhq/ladder/internal/render"

// Live is what a site runs, read in full from its runtime.
type Live struct {
	render.SiteRef
	Instances []Instance `json:"instances"`
	// Recorded is set by a runtime that cannot read an instance's image,
	// command, environment or ports back (local processes, which cannot
	// change them either once started): each instance then carries what
	// ladder recorded when it started it, in its labels (artifact digest
	// and config hash, which covers command, environment and ports), and
	// only those, its state and its health are compared.
	Recorded bool `json:"recorded,omitempty"`
}

// Instance is one running (or stopped) instance as its runtime reports it.
type Instance struct {
	// Recorded marks one instance of a Live that mixes runtimes as
	// Live.Recorded marks them all.
	Recorded bool   `json:"recorded,omitempty"`
	Service  string `json:"service"`
	Slot     string `json:"slot"`
	// ID and Name are the runtime's handles (container ID and name, PID).
	ID   string `json:"id"`
	Name string `json:"name"`
	// Image is the image the instance runs as the runtime names it (for
	// Docker the image ID, i.e. the config digest).
	Image string `json:"image"`
	// Labels are the instance's labels (ladder records the snapshot,
	// artifact digest and config hash it was started from in them).
	Labels     map[string]string `json:"labels,omitempty"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Command    []string          `json:"command,omitempty"`
	// Env is the instance's environment as the runtime reports it, with
	// what the image itself sets included.
	Env map[string]string `json:"env,omitempty"`
	// Ports are the ports it publishes: Target is the container port,
	// Published the host port (0 when unpublished).
	Ports []render.Port `json:"ports,omitempty"`
	// Running is false for a stopped or exited instance.
	Running bool `json:"running"`
	// Completed says a stopped instance exited on its own with code 0.
	Completed bool `json:"completed,omitempty"`
	// Health is "healthy", "unhealthy", "starting" or "" (no check).
	Health string `json:"health,omitempty"`
	// Binary, for a native process, says what became of the executable
	// it was started from when that is no longer the file it runs
	// ("replaced on disk: PATH"); empty when it still is.
	Binary string `json:"binary,omitempty"`
	// Runtime is how a container runs (user, capabilities, limits); nil
	// for runtimes without such settings.
	Runtime *Runtime `json:"runtime,omitempty"`
}

// Label keys ladder sets on every instance it starts.
const (
	LabelSnapshot    = "dev.ladder.snapshot"
	LabelEnvironment = "dev.ladder.environment"
	LabelSite        = "dev.ladder.site"
	LabelService     = "dev.ladder.service"
	LabelSlot        = "dev.ladder.slot"
	LabelDigest      = "dev.ladder.digest"
	LabelConfig      = "dev.ladder.config"
)
