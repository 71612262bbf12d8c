// Package process is the target that runs a site as supervised local
// processes, with no container engine: ladder's embedded default.
//
// Each service's artifact (an OCI image built by ladder) is unpacked once
// and its entrypoint runs natively. Every published port of a service is a
// stable "front" address owned by ladder that forwards connections to the
// service's current instances, each of which listens on a private port of
// its own. That is what lets a release start the new instances of a
// changed service beside the old ones, wait until they are healthy, switch
// the front over and only then stop the old ones, and what lets dependents
// keep running untouched: their configured addresses point at fronts,
// which never move.
//
// Each service's output (all slots) goes to STATE/logs/ENV/SITE/SERVICE.log,
// rotated by size and count (logfile.go). Capture reads each instance's
// pipe at a bounded rate, so a service flooding its output waits on its
// pipe instead of costing the supervisor a core (capture.go), and
// reading a log's last lines seeks from its end (logs.go).
package process
