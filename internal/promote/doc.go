// Package promote moves a snapshot up the ladder: it gathers the evidence
// a promotion's gates need (where the snapshot runs and since when, test
// commands' outcomes, approvals, the signature), decides each gate in pure
// code (Evaluate), records every verdict with its reason, and only then
// deploys the very same snapshot — its digests, with zero builds — to the
// next rung. It also rolls an environment back to its last known-good
// snapshot. Promotions to one environment are serialised by a lock in the
// store, and every step is written to the audit trail.
package promote
