// Package postgres is ladder's shared store: a store.Store kept in a
// PostgreSQL database, so that several ladder processes on several
// machines (a team's `ladder serve` replicas, CI) share one record.
//
// It passes the same conformance suite (package storetest) as the
// embedded SQLite store, and keeps the same schema concepts: times are
// BIGINT Unix milliseconds UTC, text columns default to the empty string,
// and the schema is a list of migrations (migrations/NNNN_name.sql)
// numbered and named like SQLite's, tracked in schema_migrations. Open applies the
// missing ones under a PostgreSQL advisory lock, so replicas starting at the
// same moment migrate once, and refuses a database written by a newer
// ladder.
//
// Where PostgreSQL's semantics differ from SQLite's single writer, the
// store makes up for it explicitly:
//   - event IDs must be committed in ID order, or a tailer reading "after
//     ID n" could skip an event committed late with a smaller ID; appends
//     serialise on a transaction-scoped advisory lock, so sequence order is
//     commit order;
//   - leases are granted with one INSERT ... ON CONFLICT DO UPDATE whose
//     WHERE clause checks the holder and the expiry against the row
//     PostgreSQL has locked, so of several contenders on several machines
//     exactly one wins; renewals and releases are compare-and-set on
//     (holder, epoch);
//   - snapshot IDs and the columns that lists order by are COLLATE "C", so
//     order and prefix ranges are bytewise whatever the database's locale.
//
// A DSN carries a password more often than not: Redact hides it, and every
// error this package returns has it scrubbed.
package postgres
