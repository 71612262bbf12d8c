// Package watch follows a stack's source files for `ladder up --watch`.
//
// Rules come from each service's Compose develop.watch section (sync,
// sync+restart, restart, rebuild, with path, target, ignore and include),
// and, for a Go service without one, from the packages its main package
// depends on: a save there rebuilds it. A Watcher turns file system events
// into coalesced batches of paths; Plan turns a batch into the steps to
// take (pure, with a text form), and the caller acts on them.
package watch
