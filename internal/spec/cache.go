package spec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Cache keeps loaded projects while the files they were read from stay
// as they were (size and modification time of each, and the listing of
// the project directory, where a new override or .env file would appear),
// so that a long-running engine does not parse the same files for every
// request. A cached project is shared: callers must not change it.
//
// The process environment, which Compose interpolates, is taken to be
// fixed for the life of the process.
type Cache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	p     *Project
	files []string
	stamp string
}

// maxCacheEntries bounds the cache: a project and, per snapshot with an
// archived stack definition, one more.
const maxCacheEntries = 64

// Load is spec.Load, answered from the cache when nothing it read changed.
//
// A load is kept only when the files it read are the ones the previous
// load of the same project read, stamped the same before and after it: a
// file written while it loads is never hidden behind a stale project. So
// the first load of a project is not kept, only recorded; the second is.
func (c *Cache) Load(ctx context.Context, dir string, opts LoadOptions) (*Project, error) {
	key := fmt.Sprintf("%s\x00%+v", dir, opts)
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && e.p != nil && stampOf(e.files) == e.stamp {
		return e.p, nil
	}
	var before string
	if ok {
		before = stampOf(e.files)
	}
	p, err := Load(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	files := inputsOf(dir, p)
	next := cacheEntry{files: files}
	if ok && slices.Equal(files, e.files) && stampOf(files) == before {
		next.p, next.stamp = p, before
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxCacheEntries {
		c.entries = map[string]cacheEntry{}
	}
	c.entries[key] = next
	c.mu.Unlock()
	return p, nil
}

// inputsOf lists the files a project was loaded from: ladder.yaml, the
// Compose files, the env files its services read, and the project
// directory itself (its listing changes when a file is added).
func inputsOf(dir string, p *Project) []string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	set := map[string]bool{abs: true, filepath.Join(abs, ".env"): true}
	if p.Dir != "" {
		set[p.Dir] = true
		set[filepath.Join(p.Dir, ".env")] = true
	}
	if p.LadderFile != "" {
		set[p.LadderFile] = true
	}
	if p.Stack != nil {
		if p.Stack.File != "" {
			set[p.Stack.File] = true
			set[filepath.Dir(p.Stack.File)] = true
			set[filepath.Join(filepath.Dir(p.Stack.File), ".env")] = true
		}
		if cp := p.Stack.Compose; cp != nil {
			for _, f := range cp.ComposeFiles {
				set[f] = true
			}
			for _, svc := range cp.Services {
				for _, ef := range svc.EnvFiles {
					set[ef.Path] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// stampOf sums up the files' sizes and modification times ("-" for one
// that does not exist).
func stampOf(files []string) string {
	var b strings.Builder
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(&b, "%s:-\n", f)
			continue
		}
		fmt.Fprintf(&b, "%s:%d:%d\n", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String()
}
