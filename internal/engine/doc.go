// Package engine runs every environment of a store in one process: the
// background process `ladder up -d` starts on a laptop, and `ladder serve`
// for a team.
//
// An engine holds the store's engine lease (lease.EngineName) for as long
// as it runs, so one engine at a time owns the environments; a second
// `ladder serve` on the same store is a standby that takes over within the
// lease's TTL once the owner stops renewing it (killed, partitioned).
// Taking over first closes what the previous owner left half done (the
// TakeOver hook), then starts the environments.
//
// Each environment is a Runner (the agent): the engine starts one when
// asked, and forgets it once it stops (`ladder down`). A background engine
// ends when its last environment stops, and stopping it takes its
// environments down; a served one stays, and stopping it hands them over
// as they run to the engine that follows.
//
// Commands on the same machine find the engine through STATE/engine.json
// and talk to it over a Unix socket that only its owner may open (mode
// 0600), checked by the instance ID the engine sends with every answer, so
// whatever took a dead engine's socket path is never mistaken for it.
package engine
