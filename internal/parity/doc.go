// Package parity checks the parity contract of a ladder: one definition
// is rendered for every rung, and environments differ only in what may
// legitimately differ (scale, dependency tier, endpoints, feature flags,
// secrets, rollout), never in the image, the command or the code path.
//
// Lint checks the files (compose.yaml and ladder.yaml) before anything
// runs; Diff compares the renders of one snapshot on two rungs and
// classifies each difference as allowed or a violation. Both are pure:
// no I/O, the same inputs give the same report.
package parity
