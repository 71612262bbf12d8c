// Command buildkitbench measures how long ladder takes to rebuild a
// Dockerfile service after one source line changed: a multi-stage
// Dockerfile that compiles a Go program with a cache mount for Go's build
// cache, built by BuildKit (the engine's own, and a buildkitd at an
// address when one is found) against the same Dockerfile built by the
// engine's classic builder (which has no cache mounts, so without the
// mount). Every build runs through ladder's build package, as `ladder up`
// does: inputs hash, build, export, normalise, store.
//
// Run it from the repository root: go run ./bench/buildkitbench
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
)

func main() {
	n := flag.Int("n", 3, "timed rebuilds per builder")
	out := flag.String("out", "", "results file (default bench/results/buildkit-DATE.md; - for none)")
	keep := flag.Bool("keep", false, "keep the temp dir")
	bkd := flag.String("buildkitd", "", "buildkitd binary for the BuildKit-at-an-address figures (default: the one scripts/test.sh builds, or PATH; none found skips them)")
	flag.Parse()

	r, err := harness.New("buildkitbench", *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildkitbench:", err)
		os.Exit(1)
	}
	ctx, stop := harness.SignalContext()
	b := &bench{run: r, n: *n, samples: harness.Samples{}, env: r.Environment()}
	runErr := b.measure(ctx, *bkd)
	stop()
	cleanErr := b.cleanup()
	if runErr == nil {
		md := b.report()
		fmt.Print(md)
		if err := r.WriteResults(*out, "buildkit", md); err != nil {
			runErr = err
		}
	}
	if !*keep {
		os.RemoveAll(r.Tmp)
	} else {
		r.Logf("kept %s", r.Tmp)
	}
	if !r.Outcome(ctx, runErr, cleanErr) {
		os.Exit(1)
	}
}

// bench is one run: its samples and what the cleanup must undo.
type bench struct {
	run     *harness.Run
	n       int
	samples harness.Samples
	env     harness.Env
	kinds   []*kind
	// undo runs at cleanup, last first.
	undo []func() error
	// notes are printed under the table.
	notes []string
}

func (b *bench) cleanup() error {
	var errs []error
	for i := len(b.undo) - 1; i >= 0; i-- {
		errs = append(errs, b.undo[i]())
	}
	return errors.Join(errs...)
}

// kind is one builder under test, with its own copy of the sources and
// its own ladder state directory.
type kind struct {
	key, name string
	host      string // build.Options.BuildKitHost
	src, dir  string
	first     time.Duration
	digests   map[string]bool
}

func (b *bench) measure(ctx context.Context, bkdFlag string) error {
	eng, err := newEngine()
	if err != nil {
		return err
	}
	b.undo = append(b.undo, eng.close)
	b.run.Logf("assembling a Go toolchain image from %s and loading it into the engine", goroot())
	base, err := eng.loadGoImage(ctx)
	if err != nil {
		return err
	}
	b.undo = append(b.undo, func() error { return eng.removeImage(base) })

	b.kinds = []*kind{
		{key: "classic", name: "classic builder (engine), no cache mount", host: "classic"},
		{key: "engine", name: "BuildKit of the engine, cache mount", host: ""},
	}
	if bin := findBuildkitd(bkdFlag); bin != "" {
		addr, stopBKD, err := startBuildkitd(ctx, bin, filepath.Join(b.run.Tmp, "buildkitd"))
		if err != nil {
			return err
		}
		b.undo = append(b.undo, stopBKD)
		b.kinds = append(b.kinds, &kind{key: "address", name: "BuildKit at an address (buildkitd " + buildkitdVersion(bin) + "), cache mount", host: addr})
	} else {
		b.notes = append(b.notes, "No buildkitd found: the BuildKit-at-an-address row is missing (scripts/test.sh builds one).")
	}
	for _, k := range b.kinds {
		k.src = filepath.Join(b.run.Tmp, k.key, "src")
		k.dir = filepath.Join(b.run.Tmp, k.key, "state")
		k.digests = map[string]bool{}
		if err := writeSources(k.src, base, k.key != "classic"); err != nil {
			return err
		}
	}
	for _, k := range b.kinds {
		b.run.Logf("%s: first build", k.key)
		d, err := b.build(ctx, eng, k, 0)
		if err != nil {
			return err
		}
		k.first = d
	}
	// Interleaved, so that the machine's load falls on every builder alike.
	for i := 1; i <= b.n; i++ {
		for _, k := range b.kinds {
			if err := changeLine(k.src, i); err != nil {
				return err
			}
			d, err := b.build(ctx, eng, k, i)
			if err != nil {
				return err
			}
			b.samples.Add(k.key, d)
			b.run.Logf("%s: rebuild %d/%d in %s", k.key, i, b.n, d.Round(time.Millisecond))
		}
	}
	b.env.LoadAfter = harness.LoadAvg()
	return nil
}

// goroot is the toolchain the image is made from: the one running here.
func goroot() string {
	if g := os.Getenv("GOROOT"); g != "" {
		return g
	}
	return strings.TrimSuffix(strings.TrimSpace(runGo("env", "GOROOT")), "\n")
}

func (b *bench) report() string {
	var w strings.Builder
	fmt.Fprintf(&w, "# buildkitbench: Dockerfile rebuild after one changed line\n\n")
	fmt.Fprintf(&w, "%s, commit %s, %s, %d CPUs, kernel %s; load before %s, after %s.\n\n",
		b.env.Date, b.env.Commit, b.env.GoVersion, b.env.CPUs, b.env.Kernel, b.env.LoadBefore, b.env.LoadAfter)
	fmt.Fprintf(&w, "`%s`. A multi-stage Dockerfile (a Go toolchain stage compiling a small fmt/os/strings program, then FROM scratch)"+
		"; each timed build follows a one-line change of main.go and must rebuild the service (ladder's Build: inputs hash, "+
		"build, export, normalise, store). N=%d per builder, interleaved. Times in ms.\n\n", b.env.Command, b.n)
	var rows []harness.Row
	for _, k := range b.kinds {
		rows = append(rows, harness.Row{Key: k.key, Name: k.name})
	}
	b.samples.WriteTable(&w, rows, false)
	fmt.Fprintf(&w, "\nFirst builds (untimed in the table):")
	for _, k := range b.kinds {
		fmt.Fprintf(&w, " %s %s;", k.key, harness.Ms(k.first))
	}
	fmt.Fprintf(&w, "\n\n")
	classic := b.samples.Median("classic")
	for _, k := range b.kinds[1:] {
		fmt.Fprintf(&w, "- %s / classic: %.2f×\n", k.key, harness.Ratio(b.samples.Median(k.key), classic))
	}
	for _, n := range b.notes {
		fmt.Fprintf(&w, "\n%s\n", n)
	}
	return w.String()
}
