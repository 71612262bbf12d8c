// Package storetest is the conformance suite for store.Store. Every
// implementation - the embedded SQLite store and the PostgreSQL store -
// runs the same Run from its own tests, so they cannot drift apart
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
//   - ListSamples' Since is inclusive and Limit keeps the oldest samples;
//   - CreatePromotion defaults a zero Created to now, a zero Updated to
//     Created and an empty Phase to pending; CreatePromotion and
//     UpdatePromotion refuse a phase ladder does not define; a non-terminal
//     promotion may move to any phase (pending again included); promotions
//     and audit entries are newest by creation (ID);
//   - AddGateResult for an unknown promotion is ErrNotFound; GateResults of
//     an unknown promotion is empty; gate results, approvals and job
//     runs default a zero At to now, and Audit a zero Time;
//   - approvals are oldest by At, job runs newest by At, ties broken by
//     the order recorded; an approval identity is compared exactly;
//   - CreateRelease refuses KnownGood on a release that is not succeeded;
//     MarkKnownGood of a release already known-good succeeds;
//   - Prune folds only whole buckets of raw samples (a folded sample
//     stands at its bucket's start, with the mean request rate and p50,
//     the request-weighted error rate and the highest p95), deletes by age
//     with a strict "older than", and keeps what a zero duration names;
//   - AcquireLock treats a lock as expired once now reaches its expiry,
//     consults stale only for a live lock held by another owner, and
//     refuses an empty name or owner or a zero expiry.
package storetest
