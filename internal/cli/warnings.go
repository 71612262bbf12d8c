package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/spec"
)

// printWarnings writes what loads but does not run as written on the
// target kind, one positioned line each, and the one line naming the
// services that inactive profiles leave out.
func printWarnings(w io.Writer, p *spec.Project, kind string) {
	for _, d := range warningsFor(p, kind) {
		fmt.Fprintln(w, d)
	}
	if note := p.Stack.InactiveNote(); note != "" {
		fmt.Fprintln(w, note)
	}
}

// warningsFor are the warnings of kind. The process target runs the
// services that are not static binaries in the Docker engine, as the
// compose target does, so their fields are warned about as compose's.
func warningsFor(p *spec.Project, kind string) spec.Diagnostics {
	if kind != "process" {
		return p.Warnings(kind)
	}
	engine := map[string]string{}
	for _, name := range build.ContainerServices(p.Stack) {
		engine[name] = "compose"
	}
	return p.WarningsOn(kind, engine)
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
