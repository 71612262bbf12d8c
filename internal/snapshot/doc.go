// Package snapshot defines ladder's unit of release: an immutable,
// content-addressed record of which artifact digest each service of a stack
// runs, together with the hash of the stack definition that wires them.
//
// A snapshot's ID is derived from its content alone, so building the same
// sources twice yields the same ID on every machine, and a promoted snapshot
// is provably the one that was tested on the rung below.
package snapshot
