package build

import (
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maxFreshBytes bounds the memory a Memo spends on images it keeps whole.
const maxFreshBytes = 128 << 20

// Memo is what the builders of one process learn about artifacts, keyed by
// digest: a digest names fixed content, so a fact about it never goes
// stale, and builders that share a Memo work each out once. It also keeps
// the images built last in memory, with their layers uncompressed, so
// that unpacking one for the process target, checking it is a static
// binary and reading it for its SBOM do not decompress what was
// compressed a moment ago. The zero value is not usable; see NewMemo.
type Memo struct {
	// manifests holds each image's rootfs manifest (*rootfsManifest).
	manifests sync.Map
	// static holds StaticBinary's answer (bool).
	static sync.Map

	mu    sync.Mutex
	fresh map[string]freshImage
	order []string // digests in fresh, oldest first
	bytes int64
}

type freshImage struct {
	img  v1.Image
	size int64
}

// NewMemo returns an empty Memo.
func NewMemo() *Memo { return &Memo{fresh: map[string]freshImage{}} }

// keep holds img, which is stored in the artifact store under digest and
// whose layers occupy size bytes of memory, dropping the oldest images
// held beyond maxFreshBytes. An image larger than the bound is not held.
func (m *Memo) keep(digest string, img v1.Image, size int64) {
	if size > maxFreshBytes {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.fresh[digest]; ok {
		return
	}
	for m.bytes+size > maxFreshBytes && len(m.order) > 0 {
		old := m.order[0]
		m.order = m.order[1:]
		m.bytes -= m.fresh[old].size
		delete(m.fresh, old)
	}
	m.fresh[digest] = freshImage{img: img, size: size}
	m.order = append(m.order, digest)
	m.bytes += size
}

// image returns the image held for digest, if any.
func (m *Memo) image(digest string) (v1.Image, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.fresh[digest]
	return f.img, ok
}
