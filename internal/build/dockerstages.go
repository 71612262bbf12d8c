package build

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// imageUse is an image a Dockerfile takes from outside the build: a FROM
// that names no stage and is not scratch, a COPY --from= or a RUN
// --mount=from= that names an image.
type imageUse struct {
	ref   string // as written, with build arguments substituted
	stage string // the stage that uses it (its name, or its index)
	line  int    // the line of the instruction, 1-based
}

// stageGraph is a Dockerfile parsed into its stages, with what ladder
// needs to know which images a build of one target reads.
type stageGraph struct {
	stages []instructions.Stage
	lex    *shell.Lex
	env    shell.EnvGetter
	byName map[string]int
}

// parseStages parses a Dockerfile with BuildKit's own parser. The
// arguments declared before the first FROM, set by args where given, and
// the platform arguments BuildKit predefines, are what FROM and --from
// values are expanded with.
func parseStages(content []byte, args types.MappingWithEquals) (*stageGraph, error) {
	res, err := parser.Parse(bytes.NewReader(content))
	if err != nil {
		return nil, err
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("the Dockerfile has no FROM")
	}
	lex := shell.NewLex(res.EscapeToken)
	env := map[string]string{}
	for k, v := range platformArgs() {
		env[k] = v
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if v, ok := args[kv.Key]; ok && v != nil {
				env[kv.Key] = *v
				continue
			}
			if kv.Value == nil {
				if _, ok := env[kv.Key]; !ok {
					env[kv.Key] = ""
				}
				continue
			}
			// A default may use the arguments declared before it.
			v, _, err := lex.ProcessWord(*kv.Value, envGetter(env))
			if err != nil {
				return nil, err
			}
			env[kv.Key] = v
		}
	}
	g := &stageGraph{stages: stages, lex: lex, env: envGetter(env), byName: map[string]int{}}
	for i, s := range stages {
		if s.Name != "" {
			if _, dup := g.byName[strings.ToLower(s.Name)]; !dup {
				g.byName[strings.ToLower(s.Name)] = i
			}
		}
	}
	return g, nil
}

// platformArgs are the arguments BuildKit defines for every build, for
// this machine (ladder builds for the engine's platform, the host's).
func platformArgs() map[string]string {
	p := "linux/" + runtime.GOARCH
	m := map[string]string{}
	for _, pre := range []string{"BUILD", "TARGET"} {
		m[pre+"PLATFORM"] = p
		m[pre+"OS"] = "linux"
		m[pre+"ARCH"] = runtime.GOARCH
		m[pre+"VARIANT"] = ""
	}
	return m
}

type envGetter map[string]string

func (e envGetter) Get(key string) (string, bool) { v, ok := e[key]; return v, ok }
func (e envGetter) Keys() []string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	return keys
}

// stageNames lists the stages for an error message: names, or indexes for
// unnamed ones.
func (g *stageGraph) stageNames() string {
	var names []string
	for i, s := range g.stages {
		if s.Name != "" {
			names = append(names, s.Name)
		} else {
			names = append(names, strconv.Itoa(i))
		}
	}
	return strings.Join(names, ", ")
}

// targetIndex is the index of the stage target names, the last stage for
// no target; -1 when no stage has that name.
func (g *stageGraph) targetIndex(target string) int {
	if target == "" {
		return len(g.stages) - 1
	}
	if i, ok := g.byName[strings.ToLower(target)]; ok {
		return i
	}
	return -1
}

// expand substitutes the global arguments in a FROM or --from value.
func (g *stageGraph) expand(word string) string {
	v, _, err := g.lex.ProcessWord(word, g.env)
	if err != nil {
		return word
	}
	return v
}

// stageRef resolves a --from value to a stage index (a stage's name or
// index), or -1 when it names an image.
func (g *stageGraph) stageRef(v string) int {
	if i, ok := g.byName[strings.ToLower(v)]; ok {
		return i
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < len(g.stages) {
		return n
	}
	return -1
}

// images returns the images that building the stage at index target
// reads, in the order they are met. BuildKit builds only the stages the
// target depends on (from=all false); the classic builder builds every
// stage up to the target (all true), so it needs their images too.
func (g *stageGraph) images(target int, all bool) []imageUse {
	var out []imageUse
	seen := map[string]bool{}
	visited := map[int]bool{}
	add := func(ref string, stage int, loc []parser.Range) {
		if ref == "" || strings.EqualFold(ref, "scratch") || seen[ref] {
			return
		}
		seen[ref] = true
		u := imageUse{ref: ref, stage: g.stages[stage].Name}
		if u.stage == "" {
			u.stage = strconv.Itoa(stage)
		}
		if len(loc) > 0 {
			u.line = loc[0].Start.Line
		}
		out = append(out, u)
	}
	var visit func(i int)
	visit = func(i int) {
		if visited[i] {
			return
		}
		visited[i] = true
		s := g.stages[i]
		base := g.expand(s.BaseName)
		// FROM may name an earlier stage only.
		if j, ok := g.byName[strings.ToLower(base)]; ok && j < i {
			visit(j)
		} else {
			add(base, i, s.Location)
		}
		for _, c := range s.Commands {
			var froms []string
			switch c := c.(type) {
			case *instructions.CopyCommand:
				froms = append(froms, c.From)
			case *instructions.RunCommand:
				for _, m := range instructions.GetMounts(c) {
					froms = append(froms, m.From)
				}
			}
			for _, f := range froms {
				if f == "" {
					continue
				}
				f = g.expand(f)
				if j := g.stageRef(f); j >= 0 {
					visit(j)
				} else {
					add(f, i, c.Location())
				}
			}
		}
	}
	if all {
		for i := 0; i <= target; i++ {
			visit(i)
		}
	} else {
		visit(target)
	}
	return out
}
