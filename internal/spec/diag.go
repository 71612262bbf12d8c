package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Diagnostic is one problem in a file a user wrote.
type Diagnostic struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
	// Path is the field path, e.g. "services.web.ports[0]".
	Path    string `json:"path"`
	Message string `json:"message"`
	// Severity is empty for an error, SeverityWarning for a warning:
	// something that loads and runs, but not as the file says.
	Severity string `json:"severity,omitempty"`
}

// SeverityWarning marks a Diagnostic that is a warning.
const SeverityWarning = "warning"

func (d Diagnostic) String() string {
	// File and Path are what the user named (directories, keys): they
	// are quoted when they hold control or format characters.
	var b strings.Builder
	b.WriteString(Quote(d.File))
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", d.Line, d.Col)
	}
	b.WriteString(": ")
	if d.Severity != "" {
		b.WriteString(d.Severity)
		b.WriteString(": ")
	}
	if d.Path != "" {
		b.WriteString(Quote(d.Path))
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	return b.String()
}

// Diagnostics is every problem found while loading; as an error it reads
// one problem per line, in file and position order.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders ds by file, line, column and path.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Path < b.Path
	})
}
