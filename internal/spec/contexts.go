package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// checkContexts checks every local build context: it must lie inside the
// project (symbolic links followed), or inside a directory ladder.yaml
// lists under build.outside, and, when require is set, exist and be a
// directory. A relative
// path is the portable way to name one: an absolute context is refused
// unless it lies in such a directory. Remote contexts (git, https) are
// left to the builder.
func checkContexts(st *Stack, projectDir string, doc *ladderDoc, require bool) Diagnostics {
	var ds Diagnostics
	var allowed []string
	if doc != nil {
		for i, o := range doc.ladder.Build.Outside {
			loc := doc.locate("build", "outside", strconv.Itoa(i))
			dir, err := realDir(absFrom(projectDir, o))
			if err != nil {
				ds = append(ds, at(doc.file, loc.Value, loc.Path, fmt.Sprintf("%s: %s", Quote(o), err)))
				continue
			}
			allowed = append(allowed, dir)
		}
	}
	// The project is the directory of ladder.yaml, and that of the stack
	// file too when ladder.yaml points elsewhere (or there is none).
	var project []string
	for _, d := range []string{projectDir, filepath.Dir(st.File)} {
		if real, err := realDir(d); err == nil {
			project = append(project, real)
		}
	}
	root := st.src.root
	for _, name := range serviceNames(root) {
		svc, ok := st.Compose.Services[name]
		if !ok || svc.Build == nil || isRemoteContext(svc.Build.Context) {
			continue
		}
		loc := locate(root, "services", name, "build")
		if cl := locate(root, "services", name, "build", "context"); cl.Found == 4 {
			loc = cl
		}
		raw := resolve(loc.Value)
		written := svc.Build.Context
		if raw != nil && raw.Kind == yaml.ScalarNode {
			written = raw.Value
		}
		add := func(msg string) { ds = append(ds, at(st.src.file, loc.Value, loc.Path, msg)) }
		dir, err := realDir(svc.Build.Context)
		if err != nil {
			if require {
				add(fmt.Sprintf("build context %s: %s", Quote(written), err))
				continue
			}
			dir = filepath.Clean(svc.Build.Context) // where it would be
		}
		inProject := false
		for _, p := range project {
			inProject = inProject || within(dir, p)
		}
		inAllowed := false
		for _, a := range allowed {
			inAllowed = inAllowed || within(dir, a)
		}
		switch {
		case filepath.IsAbs(written) && !inAllowed:
			add(fmt.Sprintf("build context %s is an absolute path: write it relative to the stack file, or list a directory holding it under build.outside in ladder.yaml", Quote(written)))
		case !inProject && !inAllowed:
			add(fmt.Sprintf("build context %s is outside the project (%s): a build would send it to the builder; list it under build.outside in ladder.yaml if that is meant", Quote(written), Quote(dir)))
		}
	}
	return ds
}

// realDir is p made absolute with symbolic links resolved, or why it
// cannot be a build context.
func realDir(p string) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if os.IsNotExist(err) {
		return "", fmt.Errorf("no such directory")
	}
	if err != nil {
		return "", fmt.Errorf("cannot read it: %s", unwrapPathError(err))
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("cannot read it: %s", unwrapPathError(err))
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("not a directory")
	}
	return filepath.Abs(real)
}

// within reports whether dir is base or lies under it.
func within(dir, base string) bool {
	rel, err := filepath.Rel(base, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// isRemoteContext tells a context a builder fetches (a git repository, a
// URL, another service's image) from a directory, as compose-go does.
func isRemoteContext(c string) bool {
	if strings.Contains(c, "://") || strings.HasPrefix(c, types.ServicePrefix) {
		return true
	}
	for _, prefix := range []string{"github.com/", "git@"} {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}
