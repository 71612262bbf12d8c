// Package demotest holds what the end-to-end tests and the benchmarks do
// to copies of the trading demo's files.
package demotest

import (
	"fmt"
	"strings"
)

// WithoutDatabase is the trading demo's compose file without its
// database: no db service, no migrate job, no volume, and users and trades
// keep their data in memory (they do without DATABASE_URL). The process
// target alone runs no image services, so tests and benchmarks of it run
// the demo this way. It edits lines, not YAML, so the rest of the file
// (which tests edit as text) stays as the demo has it, and it fails if the
// file no longer has what it removes.
func WithoutDatabase(compose string) (string, error) {
	for _, must := range []string{"  db:", "  migrate:", "volumes:", "x-database-url:"} {
		if !strings.Contains(compose, "\n"+must+"\n") && !strings.Contains(compose, "\n"+must+" ") {
			return "", fmt.Errorf("no %q", must)
		}
	}
	var kept []string
	dropping := false
	for _, line := range strings.Split(compose, "\n") {
		switch {
		case line == "  db:" || line == "  migrate:" || line == "volumes:":
			dropping = true
			continue
		case dropping && (strings.HasPrefix(line, "    ") || (strings.HasPrefix(line, "  ") && strings.HasPrefix(strings.TrimSpace(line), "pgdata:")) || strings.TrimSpace(line) == ""):
			continue
		}
		dropping = false
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(line, "x-database-url:") || strings.HasPrefix(trimmed, "DATABASE_URL:") ||
			strings.HasPrefix(trimmed, "migrate: {condition:") {
			continue
		}
		kept = append(kept, line)
	}
	// A depends_on left with nothing under it goes too.
	var out []string
	for i, line := range kept {
		if strings.TrimSpace(line) == "depends_on:" {
			indent := len(line) - len(strings.TrimLeft(line, " "))
			next := ""
			if i+1 < len(kept) {
				next = kept[i+1]
			}
			if len(next)-len(strings.TrimLeft(next, " ")) <= indent {
				continue
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n"), nil
}
