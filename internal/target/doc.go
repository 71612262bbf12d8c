// Package target defines the runtime behind a site. A Target observes what
// a site runs and carries out a plan; it decides nothing (package plan
// does). Every implementation must pass the conformance suite in package
// targettest, against its real runtime.
//
// A Registry maps kind names (compose, process, hybrid) to factories and
// the capabilities each kind declares; the CLI builds one and makes one
// target per site with it, on the site's own engine. Sites puts the
// targets of an environment's sites behind one Target and says where each
// site runs (Locator), which every release records.
package target
