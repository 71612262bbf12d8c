package watch

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// GoDirs returns the directories of the packages a Go main package in dir
// depends on that can change under the developer (outside GOROOT and the
// module cache), plus the directory of each such package's go.mod.
func GoDirs(ctx context.Context, dir string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-e", "-deps",
		"-f", "{{if not .Standard}}{{.Dir}}\t{{with .Module}}{{.GoMod}}{{end}}{{end}}", ".")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %v: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	modcache, err := exec.CommandContext(ctx, "go", "env", "GOMODCACHE").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	cache := strings.TrimSpace(string(modcache)) + string(filepath.Separator)
	seen := map[string]bool{}
	var dirs []string
	addDir := func(d string) {
		if d != "" && !strings.HasPrefix(d, cache) && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkgDir, gomod, _ := strings.Cut(line, "\t")
		addDir(pkgDir)
		if gomod != "" {
			addDir(filepath.Dir(gomod))
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}
