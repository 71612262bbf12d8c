// Package spec loads and validates what a user writes: the stack
// (compose.yaml, through compose-go) and the ladder file (ladder.yaml,
// decoded strictly). Every problem found is reported at once, each with
// file:line:col and the path of the field, so a user fixes a file in one
// pass instead of one error per run.
//
// Every Compose field is applied, warned about or refused, per target
// (Fields, TopFields; docs/compose-fields.md is generated from them):
// nothing a user writes is dropped without a word. Compose profiles are
// resolved here, and compose-go's own warnings become positioned
// diagnostics (Project.Warnings).
package spec
