// Package sqlite is ladder's embedded store: a store.Store kept in one
// SQLite file, so a single machine needs no database server.
//
// Why SQLite:
//   - modernc.org/sqlite is pure Go, so ladder stays one static binary,
//     cross-compiled without cgo.
//   - The whole record is one file: easy to back up, copy or delete.
//   - It is transactional, so a crash mid-deploy never leaves a
//     half-written record, and several ladder processes (a CLI command and
//     a running server) can share the file safely.
//   - In WAL mode readers never wait for the writer: the dashboard keeps
//     reading while a deploy writes events.
//   - Its SQL is close enough to PostgreSQL's that the schema and queries
//     can be shared with the future control-plane store; the few
//     SQLite-only spellings are marked in comments.
//
// The schema is an ordered list of numbered migrations embedded in the
// binary (migrations/NNNN_name.sql) and tracked in schema_migrations. Open
// applies the missing ones and refuses a database written by a newer
// ladder.
package sqlite
