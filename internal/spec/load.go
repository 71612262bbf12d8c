package spec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LoadOptions tells Load where the files are. Relative paths are taken
// from the directory given to Load.
type LoadOptions struct {
	// LadderFile is the ladder file; empty means the first of
	// LadderFileNames in the directory, or none (defaults are used).
	LadderFile string
	// StackFile is the Compose file; empty means ladder.yaml's `stack:`
	// (relative to ladder.yaml), else the first of StackFileNames in the
	// project directory.
	StackFile string
	// Env holds extra KEY=VALUE variables for interpolation in the stack
	// file; they override the OS environment, which overrides the
	// project's .env file.
	Env []string
	// Archived says the stack file is a recorded snapshot's archived
	// definition, loaded to deploy what was built from it: its build
	// contexts are not checked, as nothing is built from it and they are
	// relative to where it was written, not to the archive.
	Archived bool
	// RequireContexts says builds will run from the project: a build
	// context that does not exist, or is not a directory, is an error.
	// (Wherever a context is, it must be inside the project or opted in.)
	RequireContexts bool
	// Profiles are the Compose profiles to activate; empty means those
	// COMPOSE_PROFILES names (in the environment or the .env file), as
	// for docker compose.
	Profiles []string
}

// Load reads the project in dir: ladder.yaml (or the defaults) and the
// stack file. When anything is wrong the error is a Diagnostics holding
// every problem found in both files, sorted by file and position.
//
// Load returns as soon as ctx is done. Parts of loading do not look at a
// context (YAML parsing, schema validation, compose-go's loader), so they
// run aside and are left to finish on their own; checkBudget bounds how
// long that can be.
func Load(ctx context.Context, dir string, opts LoadOptions) (*Project, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		p   *Project
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := load(ctx, dir, opts)
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		return r.p, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func load(ctx context.Context, dir string, opts LoadOptions) (*Project, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var ds Diagnostics

	ladderAbs := ""
	if opts.LadderFile != "" {
		ladderAbs = absFrom(absDir, opts.LadderFile)
		if !isFile(ladderAbs) {
			return nil, Diagnostics{{File: relPath(absDir, ladderAbs), Message: "ladder file not found"}}
		}
	} else {
		ladderAbs = findFirst(absDir, LadderFileNames)
	}
	projectDir := absDir
	var doc *ladderDoc
	if ladderAbs != "" {
		projectDir = filepath.Dir(ladderAbs)
		shown := relPath(absDir, ladderAbs)
		content, err := readBounded(ladderAbs)
		if errors.Is(err, errTooLarge) {
			return nil, Diagnostics{{File: shown, Line: 1, Col: 1, Message: tooLargeMsg("the ladder file")}}
		}
		if err != nil {
			return nil, Diagnostics{{File: shown, Message: "cannot read the ladder file: " + unwrapPathError(err)}}
		}
		var d Diagnostics
		doc, d = parseLadder(shown, content)
		ds = append(ds, d...)
	}

	stackAbs := ""
	switch {
	case opts.StackFile != "":
		stackAbs = absFrom(absDir, opts.StackFile)
		if !isFile(stackAbs) {
			ds = append(ds, Diagnostic{File: relPath(absDir, stackAbs), Message: "stack file not found"})
			stackAbs = ""
		}
	case doc != nil && doc.ladder.Stack != "":
		stackAbs = absFrom(projectDir, doc.ladder.Stack)
		if !isFile(stackAbs) {
			loc := locate(doc.root, "stack")
			ds = append(ds, at(doc.file, loc.Value, loc.Path,
				fmt.Sprintf("stack file %q not found (relative to %s)", doc.ladder.Stack, doc.file)))
			stackAbs = ""
		}
	default:
		stackAbs = findFirst(projectDir, StackFileNames)
		if stackAbs == "" {
			where := relPath(absDir, projectDir)
			if where == "." {
				where = dir
			}
			ds = append(ds, Diagnostic{
				File:    relPath(absDir, filepath.Join(projectDir, StackFileNames[0])),
				Message: fmt.Sprintf("no stack file found: looked for %s in %s", strings.Join(StackFileNames, ", "), where),
			})
		}
	}

	var stack *Stack
	var services []string
	if stackAbs != "" {
		var d Diagnostics
		stack, services, d = loadStack(ctx, stackInput{abs: stackAbs, shown: relPath(absDir, stackAbs), base: absDir, env: opts.Env, profiles: opts.Profiles, archived: opts.Archived})
		ds = append(ds, d...)
	}
	if err := ctx.Err(); err != nil {
		// Interrupted: whatever was found is incomplete.
		return nil, err
	}
	if doc != nil {
		ds = append(ds, doc.check(services)...)
	}
	if stack != nil && !opts.Archived {
		ds = append(ds, checkContexts(stack, projectDir, doc, opts.RequireContexts)...)
	}
	if len(ds) > 0 {
		// Messages first, so problems sharing a position keep one order
		// from run to run (schema errors come out in map order).
		slices.SortStableFunc(ds, func(a, b Diagnostic) int { return strings.Compare(a.Message, b.Message) })
		ds.Sort()
		return nil, ds
	}

	p := &Project{Dir: projectDir, LadderFile: ladderAbs, Stack: stack}
	if doc != nil {
		applyDefaults(doc.ladder)
		p.Ladder = doc.ladder
		p.ladderSrc = source{file: doc.file, root: doc.root}
	} else {
		p.Ladder = DefaultLadder()
		p.Dir = filepath.Dir(stackAbs)
	}
	return p, nil
}

func absFrom(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

func findFirst(dir string, names []string) string {
	for _, n := range names {
		if p := filepath.Join(dir, n); isFile(p) {
			return p
		}
	}
	return ""
}

// relPath shows p relative to base when it lies under it, which keeps
// diagnostics short and the same in every checkout.
func relPath(base, p string) string {
	rel, err := filepath.Rel(base, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return filepath.ToSlash(rel)
}

// LocateState finds a project's directory and state directory without
// loading it: from ladder.yaml's `state:` alone (default .ladder, relative
// to ladder.yaml). ok is false when that cannot be told cheaply (no
// ladder.yaml and a stack file named elsewhere, or a ladder.yaml that does
// not parse): load the project then.
func LocateState(dir string, opts LoadOptions) (projectDir, stateDir string, ok bool) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", "", false
	}
	ladderAbs := ""
	if opts.LadderFile != "" {
		ladderAbs = absFrom(absDir, opts.LadderFile)
	} else {
		ladderAbs = findFirst(absDir, LadderFileNames)
	}
	state := DefaultState
	projectDir = absDir
	switch {
	case ladderAbs != "":
		content, err := readBounded(ladderAbs)
		if err != nil {
			return "", "", false
		}
		// The ladder file's own parser: bounded like every load.
		doc, ds := parseLadder(filepath.Base(ladderAbs), content)
		if len(ds) > 0 {
			return "", "", false
		}
		if doc.ladder.State != "" {
			state = doc.ladder.State
		}
		projectDir = filepath.Dir(ladderAbs)
	case opts.StackFile != "":
		return "", "", false
	}
	if !filepath.IsAbs(state) {
		state = filepath.Join(projectDir, state)
	}
	return projectDir, state, true
}
