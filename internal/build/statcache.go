package build

import (
	"encoding/json"
	"os"
	"sync"

	"github.com/ladderhq/ladder/internal/atomicfile"
)

// cacheVersion changes when the stat cache's format or meaning does; a file
// of another version is ignored (and rewritten).
const cacheVersion = 2

// fileStat is what the stat cache knows about one path. Size -1 records
// that the path did not exist. Directories have Size 0 and are compared by
// times and inode only: their mtime changes when an entry is added,
// removed or renamed.
type fileStat struct {
	Path  string `json:"p"`
	Dir   bool   `json:"d,omitempty"`
	Size  int64  `json:"s"`
	MTime int64  `json:"m,omitempty"`
	CTime int64  `json:"c,omitempty"`
	Ino   uint64 `json:"i,omitempty"`
}

func statOf(path string) fileStat {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStat{Path: path, Size: -1}
	}
	return makeStat(path, fi)
}

func makeStat(path string, fi os.FileInfo) fileStat {
	st := fileStat{Path: path, Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	st.CTime, st.Ino = sysStat(fi)
	if fi.IsDir() {
		st.Dir, st.Size = true, 0
	}
	return st
}

// cacheEntry is the source hash of one build context and the stats of
// everything it was computed from.
type cacheEntry struct {
	// Toolchain is the toolchain key the entry was made under: another
	// toolchain or GOFLAGS may select other files.
	Toolchain string     `json:"toolchain"`
	Source    string     `json:"source"`
	Files     []fileStat `json:"files"`
	// Untrusted: the hash is not to be reused (a file was written while
	// it was made, or go list could not load everything); the entry only
	// tells whether the files changed since.
	Untrusted bool `json:"untrusted,omitempty"`
}

type cacheData struct {
	Version   int                    `json:"version"`
	Toolchain *toolchain             `json:"toolchain,omitempty"`
	Contexts  map[string]*cacheEntry `json:"contexts"`
}

// statCache is the on-disk memory of input hashes (Dir/cache/inputs.json).
// Entries are keyed by build context, so services built from one context
// share one. It is only ever a shortcut: every entry is checked against the
// file system before use, so a stale, lost or concurrently overwritten
// entry costs a go list, never a wrong hash.
type statCache struct {
	path  string
	mu    sync.Mutex
	dirty bool
	data  cacheData
}

func loadStatCache(path string) *statCache {
	c := &statCache{path: path}
	if b, err := os.ReadFile(path); err == nil {
		// A corrupt or foreign file is as good as none.
		if json.Unmarshal(b, &c.data) != nil || c.data.Version != cacheVersion {
			c.data = cacheData{}
		}
	}
	c.data.Version = cacheVersion
	if c.data.Contexts == nil {
		c.data.Contexts = map[string]*cacheEntry{}
	}
	return c
}

func (c *statCache) toolchain(key string) (toolchain, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tc := c.data.Toolchain; tc != nil && tc.Key == key && tc.Env != nil {
		return *tc, true
	}
	return toolchain{}, false
}

func (c *statCache) setToolchain(tc toolchain) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data.Toolchain = &tc
	c.dirty = true
}

// cacheMiss says why the stat cache had no hash for a context.
type cacheMiss int

const (
	cacheHit cacheMiss = iota
	// missEntry: the context was never hashed under this toolchain.
	missEntry
	// missUntrusted: its last hash is not to be reused, but none of the
	// files it was made from changed since.
	missUntrusted
	// missDirs: only a directory changed: an entry was added, removed or
	// renamed there, often a file the build does not read (a test).
	missDirs
	// missFiles: a file the hash was made from changed.
	missFiles
)

// lookup returns the cached source hash of a context if every file and
// directory it was computed from is unchanged, and otherwise why not.
func (c *statCache) lookup(context, toolchainKey string) (string, cacheMiss) {
	c.mu.Lock()
	e := c.data.Contexts[context]
	c.mu.Unlock()
	if e == nil || e.Toolchain != toolchainKey || len(e.Files) == 0 {
		return "", missEntry
	}
	miss := cacheHit
	for _, f := range e.Files {
		if statOf(f.Path) == f {
			continue
		}
		if !f.Dir {
			return "", missFiles
		}
		miss = missDirs
	}
	if miss != cacheHit {
		return "", miss
	}
	if e.Untrusted {
		return "", missUntrusted
	}
	return e.Source, cacheHit
}

// put records e for context; a nil e forgets the context (its result must
// not be trusted next time).
func (c *statCache) put(context string, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e == nil {
		if _, ok := c.data.Contexts[context]; !ok {
			return
		}
		delete(c.data.Contexts, context)
	} else {
		c.data.Contexts[context] = e
	}
	c.dirty = true
}

// save writes the cache if it changed, atomically so that a concurrent
// reader sees the old or the new file, never half of one.
func (c *statCache) save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	b, err := json.Marshal(&c.data)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteCache(c.path, b, 0o600); err != nil {
		return err
	}
	c.dirty = false
	return nil
}
