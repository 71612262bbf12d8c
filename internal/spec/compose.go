package spec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/errdefs"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// stackInput is what loadStack needs to know about the stack file.
type stackInput struct {
	abs   string   // absolute path
	shown string   // path as shown in diagnostics
	base  string   // directory diagnostics paths are made relative to
	env   []string // KEY=VALUE overriding the OS environment
	// profiles are the Compose profiles to activate (--profile); empty
	// means COMPOSE_PROFILES.
	profiles []string
	// archived: the file is a recorded snapshot's stack definition, which
	// ladder wrote from compose-go's normalised model (networks and volumes
	// carry their generated names) after checking the original's fields.
	archived bool
}

// loadStack reads, validates and loads the stack file. It returns the
// service names it could read (nil when none could be read at all) so that
// ladder.yaml can be checked against them even when the stack is invalid.
func loadStack(ctx context.Context, in stackInput) (st *Stack, services []string, ds Diagnostics) {
	withComposeLogs(func(h *logHook) {
		st, services, ds = loadStackLogged(ctx, in, h)
	})
	return st, services, ds
}

func loadStackLogged(ctx context.Context, in stackInput, logs *logHook) (*Stack, []string, Diagnostics) {
	content, err := readBounded(in.abs)
	if errors.Is(err, errTooLarge) {
		return nil, nil, Diagnostics{{File: in.shown, Line: 1, Col: 1, Message: tooLargeMsg("the stack file")}}
	}
	if err != nil {
		return nil, nil, Diagnostics{{File: in.shown, Message: "cannot read the stack file: " + unwrapPathError(err)}}
	}
	po, ds := projectOptions(in)
	if ds != nil {
		return nil, nil, ds
	}
	root, ds := parseYAML(in.shown, content)
	if ds != nil {
		return nil, nil, ds
	}
	if root.Kind != yaml.MappingNode {
		return nil, nil, Diagnostics{at(in.shown, root, "", "top-level object must be a mapping")}
	}
	services := serviceNames(root)

	ds = duplicateKeys(in.shown, root, "", map[*yaml.Node]bool{})
	ip := newInterpolator(ctx, in.shown, po.Environment)
	ip.logs, ip.seen = logs, map[string]bool{}
	iroot := root
	if !in.archived {
		iroot = ip.interpolate(root, tree.NewPath(), "")
	}
	model, _ := ip.toModel(iroot, "").(map[string]any)
	if ip.err != nil {
		return nil, nil, nil // Load reports ctx's error
	}
	ds = append(ds, ip.diags...)
	var refused Diagnostics
	var uses []fieldUse
	if sd := validateSchema(in.shown, root, model); sd != nil {
		ds = append(ds, sd...)
	} else {
		ds = append(ds, checkPorts(in.shown, root, model)...)
		// Only a file the schema accepts names fields worth judging.
		refused, uses = checkFields(in.shown, iroot)
		if in.archived {
			refused = nil
		}
	}
	exts, extDiags := decodeExtensions(in.shown, iroot, model)
	if len(ds) > 0 {
		// compose-go would stop at the first of these, without a position.
		return nil, services, append(append(ds, extDiags...), refused...)
	}

	if ctx.Err() != nil {
		return nil, nil, nil // Load reports ctx's error
	}
	project, err := po.LoadProject(ctx)
	if err != nil {
		return nil, services, append(append(extDiags, semanticDiagnostics(in, root, err)...), refused...)
	}
	if extDiags != nil || refused != nil {
		return nil, services, append(extDiags, refused...)
	}
	if ds := checkProfiles(in, project, root); ds != nil {
		return nil, services, ds
	}
	for name := range project.Services {
		if _, ok := exts[name]; !ok {
			exts[name] = ServiceExt{}
		}
	}
	st := &Stack{File: in.abs, Name: project.Name, Compose: project, Ext: exts, src: source{file: in.shown, root: root}, fieldUses: uses}
	st.Inactive = inactiveServices(project)
	for name := range st.Inactive {
		delete(exts, name)
	}
	st.Warnings = append(ip.warnings, logWarnings(in.shown, filepath.Dir(in.abs), root, logs.since(0), ip.seen)...)
	if st.Hash, err = hashStack(st); err != nil {
		return nil, services, Diagnostics{at(in.shown, root, "", "cannot hash the stack: "+err.Error())}
	}
	return st, services, nil
}

// projectOptions sets up compose-go the way the compose CLI does: the
// project directory is the stack file's, variables come from opts.Env, then
// the OS environment, then the project's .env file.
func projectOptions(in stackInput) (*cli.ProjectOptions, Diagnostics) {
	po, err := cli.NewProjectOptions([]string{in.abs},
		cli.WithWorkingDirectory(filepath.Dir(in.abs)),
		cli.WithEnv(in.env),
		cli.WithOsEnv,
		cli.WithEnvFiles(),
	)
	if err != nil {
		return nil, Diagnostics{{File: in.shown, Line: 1, Col: 1, Message: err.Error()}}
	}
	dotEnvErr := cli.WithDotEnv(po)
	if dotEnvErr == nil {
		// After .env, which may set COMPOSE_PROFILES as for compose.
		profiles := cli.WithProfiles(in.profiles)
		if len(in.profiles) == 0 {
			profiles = cli.WithDefaultProfiles()
		}
		if err := profiles(po); err != nil {
			return nil, Diagnostics{{File: in.shown, Line: 1, Col: 1, Message: err.Error()}}
		}
	}
	if in.archived {
		// The archive is compose-go's model after interpolation: a "$"
		// in it is literal (it was "$$" in the stack file), and
		// interpolating it again would change what runs.
		if err := cli.WithInterpolation(false)(po); err != nil {
			return nil, Diagnostics{{File: in.shown, Line: 1, Col: 1, Message: err.Error()}}
		}
	}
	if err := dotEnvErr; err != nil {
		file := in.shown
		if len(po.EnvFiles) > 0 {
			file = relPath(in.base, po.EnvFiles[0])
		}
		d := Diagnostic{File: file, Line: 1, Col: 1, Message: err.Error()}
		if m := lineRe.FindStringSubmatch(err.Error()); m != nil {
			d.Line, _ = strconv.Atoi(m[1])
			d.Message = strings.TrimSpace(m[2])
		}
		return nil, Diagnostics{d}
	}
	return po, nil
}

var lineRe = regexp.MustCompile(`line (\d+):(.*)$`)

func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

var (
	cycleRe    = regexp.MustCompile(`dependency cycle detected: ([^ ]+) -> ([^ ]+)`)
	pathRe     = regexp.MustCompile(`^((?:services|networks|volumes|secrets|configs|models|jobs)\.[^\s:]+)(?::\s*|\s+)(.*)$`)
	dependsRe  = regexp.MustCompile(`service "([^"]+)" depends on undefined service "([^"]+)"`)
	refersRe   = regexp.MustCompile(`service "([^"]+)" refers to undefined (network|volume|secret|config|model|build secret) (\S+)`)
	serviceRe  = regexp.MustCompile(`\bservices? "?([a-zA-Z0-9._-]+)"?(?:[\s:]|$)`)
	envFileRe  = regexp.MustCompile(`^env file (\S+) not found`)
	includeRe  = regexp.MustCompile(`^(?:validating|failed to parse|include) `)
	segmentsRe = regexp.MustCompile(`[^.\[\]]+`)
)

// semanticDiagnostics positions the errors of compose-go's full load
// (which carry no position) at the most specific node their message names.
func semanticDiagnostics(in stackInput, root *yaml.Node, err error) Diagnostics {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var ds Diagnostics
	for _, e := range errs {
		msg := strings.TrimSuffix(e.Error(), ": "+errdefs.ErrInvalid.Error())
		msg = strings.ReplaceAll(msg, filepath.Dir(in.abs)+string(filepath.Separator), "")
		segs, useKey := semanticTarget(root, msg)
		loc := locate(root, segs...)
		n := loc.Value
		if useKey || loc.Found < len(segs) {
			n = loc.keyNode()
		}
		if m := pathRe.FindStringSubmatch(msg); m != nil && m[2] != "" {
			msg = m[2]
		}
		if m := envFileRe.FindStringSubmatch(msg); m != nil {
			msg = m[0] // the rest repeats it as a stat error
		}
		if m := dependsRe.FindStringSubmatch(msg); m != nil {
			if profiles := profilesOf(root, m[2]); profiles != nil {
				msg = fmt.Sprintf("service %q depends on %q, which does not run: none of its profiles (%s) is active; activate one with --profile or COMPOSE_PROFILES",
					m[1], m[2], strings.Join(profiles, ", "))
			}
		}
		ds = append(ds, at(in.shown, n, loc.Path, msg))
	}
	return ds
}

// semanticTarget guesses from a compose-go error message which field it is
// about; useKey says to point at the field's key rather than its value.
func semanticTarget(root *yaml.Node, msg string) ([]string, bool) {
	if m := cycleRe.FindStringSubmatch(msg); m != nil {
		segs := []string{"services", m[1], "depends_on"}
		if i := listIndex(root, segs, m[2]); i >= 0 {
			return append(segs, strconv.Itoa(i)), false
		}
		return append(segs, m[2]), true
	}
	if m := pathRe.FindStringSubmatch(msg); m != nil {
		return segmentsRe.FindAllString(m[1], -1), true
	}
	if m := dependsRe.FindStringSubmatch(msg); m != nil {
		segs := []string{"services", m[1], "depends_on"}
		if i := listIndex(root, segs, m[2]); i >= 0 {
			return append(segs, strconv.Itoa(i)), false
		}
		return append(segs, m[2]), true
	}
	if m := refersRe.FindStringSubmatch(msg); m != nil {
		field := map[string][]string{
			"network": {"networks"}, "volume": {"volumes"}, "secret": {"secrets"},
			"config": {"configs"}, "model": {"models"}, "build secret": {"build", "secrets"},
		}[m[2]]
		segs := append([]string{"services", m[1]}, field...)
		if i := listIndex(root, segs, m[3]); i >= 0 {
			return append(segs, strconv.Itoa(i)), false
		}
		return append(segs, m[3]), true
	}
	if m := envFileRe.FindStringSubmatch(msg); m != nil {
		if segs := findScalar(root, nil, filepath.Base(m[1])); segs != nil {
			return segs, false
		}
	}
	if strings.HasPrefix(msg, "healthcheck.test ") {
		// compose-go does not say which service: find the offending test.
		for _, name := range serviceNames(root) {
			loc := locate(root, "services", name, "healthcheck", "test", "0")
			if v := resolve(loc.Value); loc.Found == 5 && !slices.Contains([]string{"CMD", "CMD-SHELL", "NONE"}, v.Value) {
				return []string{"services", name, "healthcheck", "test", "0"}, false
			}
		}
	}
	if includeRe.MatchString(msg) {
		// About another file (include, extends): point at what pulls it in.
		if loc := locate(root, "include"); loc.Found == 1 {
			return []string{"include"}, true
		}
	}
	if m := serviceRe.FindStringSubmatch(msg); m != nil {
		if loc := locate(root, "services", m[1]); loc.Found == 2 {
			for _, field := range []string{"ports", "expose", "volumes", "network_mode", "healthcheck", "env_file", "build", "extends"} {
				if strings.Contains(msg, field) {
					if fl := locate(root, "services", m[1], field); fl.Found == 3 {
						return []string{"services", m[1], field}, true
					}
				}
			}
			return []string{"services", m[1]}, true
		}
	}
	// Last resort: the value the message quotes, wherever it is written.
	for _, tok := range quotedRe.FindAllStringSubmatch(msg, -1) {
		if segs := findScalar(root, nil, tok[1]+tok[2]); segs != nil {
			return segs, false
		}
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		if segs := findScalar(root, nil, strings.TrimSpace(msg[i+2:])); segs != nil {
			return segs, false
		}
	}
	return nil, true
}

var quotedRe = regexp.MustCompile(`"([^"]+)"|'([^']+)'`)

// findScalar returns the path of the first scalar (in document order) that
// contains s, or nil.
func findScalar(n *yaml.Node, segs []string, s string) []string {
	n = resolve(n)
	if n == nil || s == "" {
		return nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, s) {
			return slices.Clone(segs)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if isMergeKey(n.Content[i]) {
				continue
			}
			// segs is extended in place and copied only when found: a
			// copy per node would cost as much as the tree is large.
			if found := findScalar(n.Content[i+1], append(segs, n.Content[i].Value), s); found != nil {
				return found
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if found := findScalar(c, append(segs, strconv.Itoa(i)), s); found != nil {
				return found
			}
		}
	}
	return nil
}

// checkPorts parses every short-syntax port with compose-go's own parser:
// compose-go stops at the first bad one and does not say which it was.
func checkPorts(file string, root *yaml.Node, model map[string]any) Diagnostics {
	var ds Diagnostics
	services, _ := model["services"].(map[string]any)
	for _, name := range serviceNames(root) {
		svc, _ := services[name].(map[string]any)
		ports, _ := svc["ports"].([]any)
		for i, p := range ports {
			s, ok := p.(string)
			if !ok {
				continue
			}
			if _, err := types.ParsePortConfig(s); err != nil {
				loc := locate(root, "services", name, "ports", strconv.Itoa(i))
				ds = append(ds, at(file, loc.Value, loc.Path, fmt.Sprintf("invalid port %q: %v", s, err)))
			}
		}
	}
	return ds
}

// listIndex finds the entry of the list at segs that names name, either as
// a plain string ("db", "data:/var/lib") or as a mapping with source/name.
func listIndex(root *yaml.Node, segs []string, name string) int {
	loc := locate(root, segs...)
	l := resolve(loc.Value)
	if loc.Found != len(segs) || l == nil || l.Kind != yaml.SequenceNode {
		return -1
	}
	for i, e := range l.Content {
		e = resolve(e)
		switch e.Kind {
		case yaml.ScalarNode:
			if e.Value == name || strings.HasPrefix(e.Value, name+":") {
				return i
			}
		case yaml.MappingNode:
			for _, key := range []string{"source", "name"} {
				if _, v := lookup(e, key); v != nil && v.Value == name {
					return i
				}
			}
		}
	}
	return -1
}
