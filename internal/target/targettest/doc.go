// Package targettest is the conformance suite every target.Target must
// pass against its real runtime: deploy, replace only what changed, keep
// the previous release serving when a new one fails, run jobs, restart
// crashed instances, refuse taken ports, and leave nothing behind on Down.
package targettest
