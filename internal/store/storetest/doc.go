// Package storetest is the conformance suite for store.Store. Every
// implementation - the embedded SQLite store today, a PostgreSQL store
// later - runs the same Run from its own tests, so they cannot drift apart
// on the rules the interface documents (idempotent snapshot puts, prefix
// lookup, event ordering for tailing, terminal releases, ...).
//
// Where the interface leaves a detail open, the suite pins the choice the
// embedded store made, so callers see the same behaviour whichever store
// they are given:
//   - times are kept to the millisecond and returned in UTC;
//   - a snapshot conflicts only if its identity (stack, stack hash,
//     service digests) differs; other fields of a known snapshot are
//     provenance, and the first record's are kept;
//   - re-putting an artifact for the same (service, inputs) replaces it;
//   - CreateRelease defaults a zero Started to now and an empty Phase to
//     progressing; FinishRelease refuses a non-terminal phase;
//   - snapshots are newest by Created, releases by creation (ID);
//   - ListSamples' Since is inclusive and Limit keeps the oldest samples.
package storetest
