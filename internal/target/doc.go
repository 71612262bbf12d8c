// Package target defines the runtime behind a site. A Target observes what
// a site runs and carries out a plan; it decides nothing (package plan
// does). Every implementation must pass the conformance suite in package
// targettest, against its real runtime.
package target
