package spec

import (
	"fmt"
	"slices"
	"strings"
)

// FieldsTable is the Markdown table of Fields and TopFields: what each
// target does with every Compose field. docs/compose-fields.md holds it.
func FieldsTable() string {
	var b strings.Builder
	row := func(f FieldSupport) {
		note := strings.ReplaceAll(f.Note, "|", `\|`)
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Field, f.Compose, f.Process, note)
	}
	b.WriteString("| field (of a service) | compose target | process target | note |\n|---|---|---|---|\n")
	for _, f := range sortedFields(Fields) {
		row(f)
	}
	b.WriteString("\n| top-level field | compose target | process target | note |\n|---|---|---|---|\n")
	for _, f := range sortedFields(TopFields) {
		row(f)
	}
	return b.String()
}

func sortedFields(fs []FieldSupport) []FieldSupport {
	out := slices.Clone(fs)
	slices.SortFunc(out, func(a, b FieldSupport) int { return strings.Compare(a.Field, b.Field) })
	return out
}
