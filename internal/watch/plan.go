package watch

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Step is one thing to do to one service after a batch of changes.
type Step struct {
	Service string
	// Action is Rebuild, Sync or Restart (a sync+restart rule gives a Sync
	// step followed by a Restart step).
	Action Action
	// Files are what a Sync step copies, in path order.
	Files []File
}

// File is one changed file of a Sync step: Src on this machine, Dst
// inside the instance. A Src that no longer exists is deleted at Dst.
type File struct {
	Src, Dst string
}

func (s Step) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", s.Service, s.Action)
	for _, f := range s.Files {
		fmt.Fprintf(&b, "\n  %s -> %s", f.Src, f.Dst)
	}
	return b.String()
}

// Plan decides what a batch of changed paths does, service by service in
// name order: a rebuild supersedes everything else for its service (the
// new build has the synced files too); otherwise the matching files are
// synced, then the service restarts if a sync+restart or restart rule
// matched. Paths no rule matches are ignored.
func Plan(rules []Rule, paths []string) []Step {
	type acc struct {
		rebuild, restart bool
		files            map[string]File
	}
	per := map[string]*acc{}
	for _, p := range paths {
		p = filepath.Clean(p)
		for _, r := range rules {
			rel, ok := r.Match(p)
			if !ok {
				continue
			}
			a := per[r.Service]
			if a == nil {
				a = &acc{files: map[string]File{}}
				per[r.Service] = a
			}
			switch r.Action {
			case Rebuild:
				a.rebuild = true
			case Restart:
				a.restart = true
			case Sync, SyncRestart:
				dst := r.Target
				if rel != "." {
					dst = path.Join(r.Target, filepath.ToSlash(rel))
				}
				a.files[dst] = File{Src: p, Dst: dst}
				a.restart = a.restart || r.Action == SyncRestart
			}
		}
	}
	names := make([]string, 0, len(per))
	for n := range per {
		names = append(names, n)
	}
	sort.Strings(names)
	var steps []Step
	for _, n := range names {
		a := per[n]
		if a.rebuild {
			steps = append(steps, Step{Service: n, Action: Rebuild})
			continue
		}
		if len(a.files) > 0 {
			s := Step{Service: n, Action: Sync}
			for _, f := range a.files {
				s.Files = append(s.Files, f)
			}
			sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Dst < s.Files[j].Dst })
			steps = append(steps, s)
		}
		if a.restart {
			steps = append(steps, Step{Service: n, Action: Restart})
		}
	}
	return steps
}

// NeedsRebuild reports whether any step rebuilds a service.
func NeedsRebuild(steps []Step) bool {
	for _, s := range steps {
		if s.Action == Rebuild {
			return true
		}
	}
	return false
}
