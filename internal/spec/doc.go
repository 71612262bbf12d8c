// Package spec loads and validates what a user writes: the stack
// (compose.yaml, through compose-go) and the ladder file (ladder.yaml,
// decoded strictly). Every problem found is reported at once, each with
// file:line:col and the path of the field, so a user fixes a file in one
// pass instead of one error per run.
package spec
