package watch

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/patternmatcher"
)

// Action is what a change under a rule's path does.
type Action string

// The develop.watch actions ladder follows.
const (
	// Sync copies the changed files into the running instances.
	Sync Action = "sync"
	// SyncRestart copies them, then restarts the instances.
	SyncRestart Action = "sync+restart"
	// Restart restarts the instances without copying anything.
	Restart Action = "restart"
	// Rebuild builds the service again and replaces it (a new snapshot).
	Rebuild Action = "rebuild"
)

// Rule is one watched path of one service.
type Rule struct {
	Service string
	Action  Action
	// Path is the absolute file or directory watched.
	Path string
	// Target is where Path lands inside an instance (sync actions).
	Target string
	// Recursive watches the directories under Path too; the rules made for
	// Go packages watch one directory each.
	Recursive bool
	ignore    *patternmatcher.PatternMatcher
	include   *patternmatcher.PatternMatcher
}

// String is the rule's text form, as `up --watch` prints it.
func (r Rule) String() string {
	s := fmt.Sprintf("%s: %s %s", r.Service, r.Action, r.Path)
	if r.Target != "" {
		s += " -> " + r.Target
	}
	return s
}

// FromDevelop returns the rules of a service's develop.watch section. dir
// resolves relative paths (compose-go usually made them absolute already).
func FromDevelop(service, dir string, d *types.DevelopConfig) ([]Rule, error) {
	if d == nil {
		return nil, nil
	}
	var rules []Rule
	for i, t := range d.Watch {
		field := fmt.Sprintf("services.%s.develop.watch[%d]", service, i)
		a := Action(t.Action)
		switch a {
		case Sync, SyncRestart, Restart, Rebuild:
		case Action(types.WatchActionSyncExec):
			return nil, fmt.Errorf("%s.action: sync+exec is not supported; use sync+restart", field)
		default:
			return nil, fmt.Errorf("%s.action: %q is not one of sync, sync+restart, restart, rebuild", field, t.Action)
		}
		if t.Path == "" {
			return nil, fmt.Errorf("%s.path: required", field)
		}
		if (a == Sync || a == SyncRestart) && t.Target == "" {
			return nil, fmt.Errorf("%s.target: required for %s", field, a)
		}
		if t.Target != "" && !strings.HasPrefix(t.Target, "/") {
			return nil, fmt.Errorf("%s.target: %q is not an absolute path inside the container", field, t.Target)
		}
		p := t.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		r := Rule{Service: service, Action: a, Path: filepath.Clean(p), Target: t.Target, Recursive: true}
		var err error
		if len(t.Ignore) > 0 {
			if r.ignore, err = patternmatcher.New(t.Ignore); err != nil {
				return nil, fmt.Errorf("%s.ignore: %w", field, err)
			}
		}
		if len(t.Include) > 0 {
			if r.include, err = patternmatcher.New(t.Include); err != nil {
				return nil, fmt.Errorf("%s.include: %w", field, err)
			}
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// GoRules returns a rebuild rule for each directory of a Go service's
// local packages (see GoDirs), plus the module files.
func GoRules(service string, dirs []string) []Rule {
	rules := make([]Rule, 0, len(dirs))
	for _, d := range dirs {
		rules = append(rules, Rule{Service: service, Action: Rebuild, Path: d})
	}
	return rules
}

// Match reports whether a change to path concerns r, and the path
// relative to r.Path ("." when path is r.Path itself).
func (r Rule) Match(path string) (string, bool) {
	rel, err := filepath.Rel(r.Path, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	if !r.Recursive && strings.ContainsRune(rel, filepath.Separator) {
		return "", false
	}
	if editorTemp(filepath.Base(path)) {
		return "", false
	}
	slash := filepath.ToSlash(rel)
	if r.ignore != nil {
		if ok, _ := r.ignore.MatchesOrParentMatches(slash); ok {
			return "", false
		}
	}
	if r.include != nil {
		if ok, _ := r.include.MatchesOrParentMatches(slash); !ok {
			return "", false
		}
	}
	return rel, true
}

// editorTemp reports files editors write beside the one being saved, and
// hidden files (ladder's own state directory among them).
func editorTemp(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || strings.HasSuffix(name, ".swp") || strings.HasSuffix(name, ".swx") ||
		name == "4913" || strings.HasSuffix(name, ".tmp")
}

// Dirs returns the directories to watch for rules, without duplicates.
func Dirs(rules []Rule) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rules {
		if !seen[r.Path] {
			seen[r.Path] = true
			out = append(out, r.Path)
		}
	}
	sort.Strings(out)
	return out
}
