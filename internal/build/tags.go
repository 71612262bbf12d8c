package build

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"

	"github.com/ladderhq/ladder/internal/atomicfile"
)

// tagRecord remembers, per pinned tag (by its artifact inputs), the digest
// the registry served for the tag when it was pinned: the manifest's, or
// the index's for a multi-platform image. Checking a tag then needs one
// HEAD request, which registries such as Docker Hub do not count as a
// pull, instead of fetching manifests on every `up`.
type tagRecord struct {
	path string

	mu      sync.Mutex
	tags    map[string]string
	changed bool
}

func (b *Builder) openTags() *tagRecord {
	t := &tagRecord{path: filepath.Join(b.opts.Dir, "cache", "tags.json"), tags: map[string]string{}}
	if raw, err := os.ReadFile(t.path); err == nil {
		_ = json.Unmarshal(raw, &t.tags) // a damaged record only costs its checks
	}
	return t
}

func (t *tagRecord) get(inputs string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tags[inputs]
}

func (t *tagRecord) set(inputs, digest string) {
	if digest == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tags[inputs] != digest {
		t.tags[inputs] = digest
		t.changed = true
	}
}

func (t *tagRecord) save() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.changed {
		return nil
	}
	raw, err := json.MarshalIndent(t.tags, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(t.path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(t.path, raw, 0o600)
}
