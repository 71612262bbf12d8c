// Package db is the trading demo's PostgreSQL side: connecting, the
// versioned schema migrations the migrate job applies, and the seed data
// it loads on rungs whose data may be seeded.
//
// Migrations are expand/contract: a release only adds (tables, nullable
// columns, indexes), so the code of the release before keeps working on
// the migrated schema and a rollback never needs a down migration. A
// column is dropped (contract) only in a release after the last code that
// reads it is gone from every rung.
package db
