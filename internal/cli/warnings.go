package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ladderhq/ladder/internal/spec"
)

// printWarnings writes what loads but does not run as written on the
// target kind, one positioned line each, and the one line naming the
// services that inactive profiles leave out.
func printWarnings(w io.Writer, p *spec.Project, kind string) {
	for _, d := range p.Warnings(kind) {
		fmt.Fprintln(w, d)
	}
	if note := p.Stack.InactiveNote(); note != "" {
		fmt.Fprintln(w, note)
	}
}

// validateKinds are the target kinds validate checks the stack for: the
// --target or LADDER_TARGET override, else every kind the environments
// run on ("auto" resolved as up resolves it).
func (a *app) validateKinds(ctx context.Context, p *spec.Project) []string {
	if k := a.target; k != "" {
		return []string{k}
	}
	if k := os.Getenv("LADDER_TARGET"); k != "" {
		return []string{k}
	}
	seen := map[string]bool{}
	var kinds []string
	resolved := ""
	for _, e := range p.Ladder.Environments {
		k := e.Target
		if k == "" || k == "auto" {
			if resolved == "" {
				ws := &workspace{project: p}
				var err error
				if resolved, err = a.targetKind(ctx, ws, e.Name); err != nil {
					resolved = "compose"
				}
			}
			k = resolved
		}
		if !seen[k] {
			seen[k] = true
			kinds = append(kinds, k)
		}
	}
	return kinds
}
