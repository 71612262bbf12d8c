package main

import (
	"fmt"
	"strings"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

// markdown is the report: the figures, their ratios and where they were
// taken.
func (b *bench) markdown() string {
	var w strings.Builder
	fmt.Fprintf(&w, "# stackbench: cold `up` of a six-service stack (PostgreSQL + 5), ladder vs docker-compose\n\n")
	e := b.env
	fmt.Fprintf(&w, "%s, commit %s, %s, %d CPUs, kernel %s, load %s → %s\n\n", e.Date, e.Commit, e.GoVersion, e.CPUs, e.Kernel, e.LoadBefore, e.LoadAfter)
	rows := []harness.Row{
		{Key: "ladder.cold", Name: "ladder cold `up -d` (empty .ladder; the engine's images in the machine's shared store), exec to exit, all healthy"},
		{Key: "ladder.cold.build", Name: "… its build and pin step (build.buildTime)"},
		{Key: "dc.healthy", Name: "docker-compose `up -d` until every healthcheck is healthy"},
		{Key: "dc.returned", Name: "… until `docker-compose up -d` returns"},
	}
	if b.warm {
		rows = append(rows,
			harness.Row{Key: "ladder.warm", Name: "ladder warm `up -d` (artifacts stored), exec to exit"},
			harness.Row{Key: "ladder.warm.build", Name: "… its build and pin step"})
	}
	if b.unshared {
		rows = append(rows,
			harness.Row{Key: "ladder.unshared", Name: "ladder cold `up -d`, nothing shared (LADDER_SHARED_DIR=off: both images copied out of the engine)"},
			harness.Row{Key: "ladder.unshared.build", Name: "… its build and pin step"})
	}
	b.s.WriteTable(&w, rows, false)
	cold, dc := b.s.Median("ladder.cold"), b.s.Median("dc.healthy")
	fmt.Fprintf(&w, "\nRatio of medians (below 1: ladder is faster): cold %.2f× docker-compose until healthy", harness.Ratio(cold, dc))
	if b.warm {
		fmt.Fprintf(&w, ", warm %.2f×", harness.Ratio(b.s.Median("ladder.warm"), dc))
	}
	if b.unshared {
		fmt.Fprintf(&w, ", cold with nothing shared %.2f×", harness.Ratio(b.s.Median("ladder.unshared"), dc))
	}
	fmt.Fprintf(&w, ". Goal: cold ≤ 0.6×: %s.\n\n", harness.Verdict(harness.Ratio(cold, dc) <= 0.6))
	fmt.Fprintf(&w, "Load averages after each round: %s.\n\nCommands:\n\n", strings.Join(b.loads, "; "))
	for _, c := range b.cmds {
		fmt.Fprintf(&w, "    %s\n", c)
	}
	return w.String()
}
