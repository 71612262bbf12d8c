package spec

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// checkProfiles refuses an active profile that no service of the stack
// names: a typo in --profile or COMPOSE_PROFILES would otherwise just run
// fewer services.
func checkProfiles(in stackInput, p *types.Project, root *yaml.Node) Diagnostics {
	// Point at the first place profiles are declared, else the top.
	line, col, path := 1, 1, "profiles"
	for _, name := range serviceNames(root) {
		if loc := locate(root, "services", name, "profiles"); loc.Found == 3 {
			k := loc.keyNode()
			line, col, path = k.Line, max(k.Column, 1), loc.Path
			break
		}
	}
	known := map[string]bool{}
	for _, s := range p.AllServices() {
		for _, prof := range s.Profiles {
			known[prof] = true
		}
	}
	var ds Diagnostics
	for _, prof := range p.Profiles {
		if prof == "" || prof == "*" || known[prof] {
			continue
		}
		names := make([]string, 0, len(known))
		for k := range known {
			names = append(names, k)
		}
		sort.Strings(names)
		has := "it has none"
		if len(names) > 0 {
			has = "it has " + strings.Join(names, ", ")
		}
		ds = append(ds, Diagnostic{File: in.shown, Line: line, Col: col, Path: path, Message: fmt.Sprintf("profile %q (from --profile or COMPOSE_PROFILES) is not used by any service of the stack; %s%s", prof, has, suggest(prof, names))})
	}
	return ds
}

// inactiveServices returns the services left out because none of their
// profiles is active, each with its profiles, and clears the profiles of
// the services that run: the stack that is hashed and archived is the one
// that runs, so reloading the archive needs no profile to be active.
func inactiveServices(p *types.Project) map[string][]string {
	out := map[string][]string{}
	for name, s := range p.DisabledServices {
		out[name] = slices.Clone(s.Profiles)
	}
	for name, s := range p.Services {
		if len(s.Profiles) > 0 {
			s.Profiles = nil
			p.Services[name] = s
		}
	}
	p.DisabledServices = nil
	if len(out) == 0 {
		return nil
	}
	return out
}

// InactiveNote is the one line that says which services do not run
// because none of their profiles is active, or "" when all run.
func (st *Stack) InactiveNote() string {
	if len(st.Inactive) == 0 {
		return ""
	}
	names := make([]string, 0, len(st.Inactive))
	for n := range st.Inactive {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s (%s)", n, strings.Join(st.Inactive[n], ", "))
	}
	return "not running, their profiles are inactive (--profile or COMPOSE_PROFILES): " + strings.Join(parts, ", ")
}

// Warnings returns what loads but does not run as written on a target
// kind ("compose" or "process"; "" for warnings about every target), in
// file order: compose-go's own warnings and the fields the target does not
// apply (see Fields).
func (p *Project) Warnings(kind string) Diagnostics {
	return p.WarningsOn(kind, nil)
}

// WarningsOn is Warnings for a target kind that runs some services on
// another kind's runtime: the process target runs the services in
// elsewhere (by name, the kind they run on: "compose" for those it runs
// in the Docker engine) as that kind does, so their fields are warned
// about as that kind warns.
func (p *Project) WarningsOn(kind string, elsewhere map[string]string) Diagnostics {
	if p.Stack == nil {
		return nil
	}
	ds := slices.Clone(p.Stack.Warnings)
	for _, u := range p.Stack.fieldUses {
		kind := kind
		if k, ok := kindBelow(u.pos.Path, elsewhere); ok && kind != "" {
			kind = k
		}
		s := u.field.Compose
		if kind == "process" {
			s = u.field.Process
		}
		if kind == "" && (u.field.Compose != Warned || u.field.Process != Warned) {
			continue
		}
		if s != Warned {
			continue
		}
		where := "on the " + kind + " target"
		if kind == "" || u.field.Compose == u.field.Process {
			where = "by ladder"
		}
		msg := "not applied " + where
		if u.field.Note != "" {
			msg += ": " + u.field.Note
		}
		ds = append(ds, Diagnostic{File: u.pos.File, Line: u.pos.Line, Col: u.pos.Col, Path: u.pos.Path, Severity: SeverityWarning, Message: msg})
	}
	ds.Sort()
	return ds
}

// profilesOf lists the profiles written for service in the raw file, or
// nil when it has none.
func profilesOf(root *yaml.Node, service string) []string {
	loc := locate(root, "services", service, "profiles")
	l := resolve(loc.Value)
	if loc.Found != 3 || l == nil || l.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, e := range l.Content {
		if e = resolve(e); e != nil && e.Kind == yaml.ScalarNode {
			out = append(out, e.Value)
		}
	}
	return out
}

// kindBelow returns the kind of the service of elsewhere a field path
// is below ("services.web.ports[0]" is below web).
func kindBelow(path string, elsewhere map[string]string) (string, bool) {
	for name, kind := range elsewhere {
		rest, ok := strings.CutPrefix(path, "services."+name)
		if ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			return kind, true
		}
	}
	return "", false
}
