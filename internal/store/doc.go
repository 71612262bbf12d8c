// Package store defines ladder's durable record: snapshots, artifacts,
// releases, events, supervised instances and telemetry samples.
//
// Store is an interface so that the embedded default (package
// store/sqlite) and a shared PostgreSQL database (package store/postgres)
// can be swapped (package store/open chooses one from a location); every
// implementation must pass the conformance suite in package storetest.
package store
