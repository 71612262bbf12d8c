package build

import (
	gobuild "go/build"
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

	// rootfsMu serialises unpacking across the builders of the process,
	// so one digest is unpacked once, and guards the seals of the trees
	// this process wrote or hashed (see treeSeal), oldest first.
	rootfsMu      sync.Mutex
	seals         map[string]treeSeal
	sealOrder     []string
	sealedEntries int

	mu    sync.Mutex
	fresh map[string]freshImage
	order []string // digests in fresh, oldest first
	bytes int64

	// recipes holds each build context's proven goRecipe, proving the
	// contexts whose recipe is being proven, and goContexts the go
	// command's build context by toolchain key.
	recipeMu   sync.Mutex
	recipes    map[string]*goRecipe
	proving    map[string]bool
	goContexts map[string]gobuild.Context
	proofs     sync.WaitGroup
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

// recipe returns the proven recipe of a build context, if any.
func (m *Memo) recipe(context string) *goRecipe {
	m.recipeMu.Lock()
	defer m.recipeMu.Unlock()
	return m.recipes[context]
}

func (m *Memo) setRecipe(context string, r *goRecipe) {
	m.recipeMu.Lock()
	defer m.recipeMu.Unlock()
	if m.recipes == nil {
		m.recipes = map[string]*goRecipe{}
	}
	m.recipes[context] = r
}

// dropRecipe forgets r, unless a newer recipe replaced it.
func (m *Memo) dropRecipe(context string, r *goRecipe) {
	m.recipeMu.Lock()
	defer m.recipeMu.Unlock()
	if m.recipes[context] == r {
		delete(m.recipes, context)
	}
}

// startProof claims the proof of a context's new recipe: false when one
// is being proven already.
func (m *Memo) startProof(context string) bool {
	m.recipeMu.Lock()
	defer m.recipeMu.Unlock()
	if m.proving[context] {
		return false
	}
	if m.proving == nil {
		m.proving = map[string]bool{}
	}
	m.proving[context] = true
	m.proofs.Add(1)
	return true
}

func (m *Memo) endProof(context string) {
	m.recipeMu.Lock()
	delete(m.proving, context)
	m.recipeMu.Unlock()
	m.proofs.Done()
}

// WaitProofs waits for the recipes being proven in the background.
func (m *Memo) WaitProofs() { m.proofs.Wait() }

// goContext returns the go command's build context for a toolchain key,
// asking it (with ask) the first time.
func (m *Memo) goContext(key string, ask func() (gobuild.Context, error)) (gobuild.Context, error) {
	m.recipeMu.Lock()
	c, ok := m.goContexts[key]
	m.recipeMu.Unlock()
	if ok {
		return c, nil
	}
	c, err := ask()
	if err != nil {
		return c, err
	}
	m.recipeMu.Lock()
	if m.goContexts == nil {
		m.goContexts = map[string]gobuild.Context{}
	}
	m.goContexts[key] = c
	m.recipeMu.Unlock()
	return c, nil
}
