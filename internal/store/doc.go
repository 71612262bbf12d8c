// Package store defines ladder's durable record: snapshots, artifacts,
// releases, events, supervised instances and telemetry samples.
//
// Store is an interface so that the embedded default (package
// store/sqlite) and a shared control-plane database can be swapped; every
// implementation must pass the conformance suite in package storetest.
package store
