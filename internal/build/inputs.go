package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// listFields are the go list fields the source hash needs. Asking for them
// by name (-json=...) keeps go list from computing the rest (notably Stale,
// which would hash the whole build).
const listFields = "Dir,ImportPath,Name,Standard,DepOnly,Module,Error,DepsErrors," +
	"GoFiles,CgoFiles,CFiles,CXXFiles,HFiles,SFiles,SysoFiles,EmbedFiles,IgnoredGoFiles,IgnoredOtherFiles"

type listPkg struct {
	Dir, ImportPath, Name string
	Standard, DepOnly     bool
	Module                *listModule
	Error                 *listError
	DepsErrors            []*listError

	GoFiles, CgoFiles, CFiles, CXXFiles, HFiles, SFiles, SysoFiles []string
	EmbedFiles                                                     []string
	// Files excluded by build constraints are hashed too: editing a
	// constraint is what brings them in.
	IgnoredGoFiles, IgnoredOtherFiles []string
}

type listModule struct {
	Path, Version, Dir, GoMod string
	Main                      bool
	Replace                   *listModule
}

type listError struct{ Err string }

// inputs returns the inputs hash of j: from the stat cache when nothing it
// was computed from changed, otherwise from go list and the files. When a
// file of a Go context changed (or the context was never hashed), changed
// (if set) is called first: such a context is nearly always compiled, so
// its go build may start beside go list rather than after it. A directory
// that only gained or lost an entry (a new test file) is more often the
// same inputs, and is not reported.
func (s *session) inputs(ctx context.Context, j *job, changed func()) (string, error) {
	if j.docker != nil {
		return s.dockerInputs(ctx, j)
	}
	source, miss := s.cache.lookup(j.context, s.tc.Key)
	if miss != cacheHit {
		if st := s.recipeFor(j); st != nil {
			s.cache.put(j.context, st.entry)
			if miss != missUntrusted && changed != nil {
				changed()
			}
			return s.finalHash(j, st.source), nil
		}
	}
	if (miss == missFiles || miss == missEntry) && changed != nil {
		changed()
	}
	if miss != cacheHit {
		var entry *cacheEntry
		var err error
		source, entry, err = s.sourceHash(ctx, j)
		if err != nil {
			return "", err
		}
		s.cache.put(j.context, entry)
	}
	return s.finalHash(j, source), nil
}

// finalHash combines the source hash with everything else the image
// depends on: toolchain, target, flags, builder version and image recipe.
func (s *session) finalHash(j *job, source string) string {
	h := sha256.New()
	fmt.Fprintf(h, "ladder inputs\nbuilder %s\nservice %s\n", BuilderVersion, j.service)
	for _, k := range hashedGoEnv {
		fmt.Fprintf(h, "goenv %s=%s\n", k, s.tc.Env[k])
	}
	fmt.Fprintf(h, "target linux/%s cgo=0\ngoflags %s\nflags %s\n", s.goarch, s.goflags, strings.Join(goBuildFlags, " "))
	fmt.Fprintf(h, "ports %s\nsource %s\n", strings.Join(j.ports, ","), source)
	hashLabels(h, j.labels)
	if s.b.opts.PlainLayers {
		// Only when set: the inputs of compressed images stay as they were.
		fmt.Fprintf(h, "layer tar\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sourceHash hashes what the build of j's main package reads, and returns
// the stat cache entry that lets the next build skip this work (nil when
// the result must not be reused, see below).
func (s *session) sourceHash(ctx context.Context, j *job) (string, *cacheEntry, error) {
	// Taken before anything is read: a file whose mtime is older than this
	// (by more than the clock granularity) was not being written while we
	// read it, so a later change will show as a different mtime.
	at := time.Now()
	cmd := s.command(ctx, j.context, "list", "-e", "-deps", "-json="+listFields, ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", nil, fmt.Errorf("service %q: go list failed (%v):\n%s", j.service, err, tail(stderr.Bytes(), 20))
	}
	var pkgs []*listPkg
	var top *listPkg
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		p := new(listPkg)
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			return "", nil, fmt.Errorf("service %q: reading go list output: %w", j.service, err)
		}
		pkgs = append(pkgs, p)
		if !p.DepOnly {
			top = p
		}
	}
	switch {
	case top == nil:
		return "", nil, fmt.Errorf("service %q: go list found no package in %s", j.service, j.context)
	case top.Name != "main" && top.Error != nil:
		return "", nil, fmt.Errorf("service %q: %s", j.service, top.Error.Err)
	case top.Name != "main":
		return "", nil, fmt.Errorf("service %q: build context %s holds package %s, not a Go main package, and no Dockerfile", j.service, j.context, top.Name)
	case top.Module == nil:
		return "", nil, fmt.Errorf("service %q: build context %s is not inside a Go module (no go.mod)", j.service, j.context)
	}

	h := newSourceHasher()
	h.line("main " + top.ImportPath)
	// Incomplete results (a missing import, a syntax error) are hashed so
	// the build can run and report the real error, but not cached: the fix
	// may be a file go list could not tell us to watch.
	complete := true
	modsSeen := map[string]bool{}
	for _, p := range pkgs {
		if p.Error != nil || len(p.DepsErrors) > 0 {
			complete = false
		}
		if p.Standard {
			continue // covered by GOVERSION
		}
		if !s.local(p) {
			h.line("module " + moduleVersion(p.Module))
			continue
		}
		if err := h.pkg(p); err != nil {
			return "", nil, fmt.Errorf("service %q: %w", j.service, err)
		}
		if m := p.Module; m != nil && !modsSeen[m.Path] {
			modsSeen[m.Path] = true
			if err := h.module(m); err != nil {
				return "", nil, fmt.Errorf("service %q: %w", j.service, err)
			}
		}
	}
	// -pgo=auto (the default) reads default.pgo next to the main package.
	if err := h.optional("pgo", filepath.Join(top.Dir, "default.pgo")); err != nil {
		return "", nil, fmt.Errorf("service %q: %w", j.service, err)
	}
	if err := h.probeAncestors(j.context, getenv(s.env, "GOWORK")); err != nil {
		return "", nil, fmt.Errorf("service %q: %w", j.service, err)
	}
	// Copied before sum sorts them: a recipe keeps the lines of the files
	// that are not the main package's.
	lines := slices.Clone(h.lines)
	source := h.sum()
	e := &cacheEntry{Toolchain: s.tc.Key, Source: source, Files: h.statList()}
	// An incomplete or racy hash is kept only to tell later whether its
	// files changed since; the hash itself is made again.
	e.Untrusted = !complete || h.racy(at)
	s.listed.Store(j.context, &listedMain{top: top, lines: lines, stats: e.Files, trusted: complete && !racyBeyond(e.Files, at, top)})
	return source, e, nil
}

// local reports whether p's files can change under the same module
// version, and so must be hashed file by file. Only the module cache is
// immutable (read-only and verified against go.sum); the main module,
// directory replacements and vendored copies are not.
func (s *session) local(p *listPkg) bool {
	m := p.Module
	if m == nil || m.Main || (m.Replace != nil && m.Replace.Version == "") {
		return true
	}
	cache := s.tc.Env["GOMODCACHE"]
	if cache == "" {
		return m.Version == ""
	}
	rel, err := filepath.Rel(cache, p.Dir)
	return err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func moduleVersion(m *listModule) string {
	if m == nil {
		return "?"
	}
	v := m.Path + "@" + m.Version
	if r := m.Replace; r != nil {
		v += " => " + r.Path + "@" + r.Version
	}
	return v
}

// sourceHasher accumulates the hash lines of one context and the stats of
// every file and directory they came from.
type sourceHasher struct {
	lines []string
	stats map[string]fileStat
}

func newSourceHasher() *sourceHasher {
	return &sourceHasher{stats: map[string]fileStat{}}
}

func (h *sourceHasher) line(l string) { h.lines = append(h.lines, l) }

// pkg hashes a local package's files under location-independent names
// (import path + relative name), so the same source checked out in two
// directories hashes the same, and records the package directory, whose
// mtime changes when a file is added or removed.
func (h *sourceHasher) pkg(p *listPkg) error {
	h.dir(p.Dir)
	for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.CFiles, p.CXXFiles, p.HFiles, p.SFiles, p.SysoFiles, p.IgnoredGoFiles, p.IgnoredOtherFiles, p.EmbedFiles} {
		for _, f := range list {
			if err := h.file("file "+p.ImportPath+"/"+filepath.ToSlash(f), filepath.Join(p.Dir, f)); err != nil {
				return err
			}
		}
	}
	// Embedded directories: watch every directory between the package and
	// an embedded file, so a file added next to embedded ones is noticed.
	for _, f := range p.EmbedFiles {
		for d := filepath.Dir(filepath.Join(p.Dir, f)); d != p.Dir && strings.HasPrefix(d, p.Dir); d = filepath.Dir(d) {
			h.dir(d)
		}
	}
	return nil
}

// module hashes the go.mod of a local module, and go.sum of a main module
// (it pins every dependency's content).
func (h *sourceHasher) module(m *listModule) error {
	gomod := m.GoMod
	if m.Replace != nil && m.Replace.GoMod != "" {
		gomod = m.Replace.GoMod
	}
	if gomod == "" {
		return nil
	}
	if err := h.file("gomod "+m.Path, gomod); err != nil {
		return err
	}
	if m.Main {
		return h.optional("gosum "+m.Path, filepath.Join(filepath.Dir(gomod), "go.sum"))
	}
	return nil
}

// probeAncestors records the go.mod and go.work files go looks for above
// the context: creating one there changes what is built, so their absence
// is part of the cache entry too. A workspace file found is hashed.
func (h *sourceHasher) probeAncestors(dir, gowork string) error {
	switch gowork {
	case "off":
	case "":
		for d := dir; ; d = filepath.Dir(d) {
			p := filepath.Join(d, "go.work")
			if st := statOf(p); st.Size >= 0 {
				if err := h.workspace(p); err != nil {
					return err
				}
				break
			}
			h.stats[p] = fileStat{Path: p, Size: -1}
			if filepath.Dir(d) == d {
				break
			}
		}
	default:
		if err := h.workspace(gowork); err != nil {
			return err
		}
	}
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "go.mod")
		st := statOf(p)
		h.stats[p] = st
		if st.Size >= 0 || filepath.Dir(d) == d {
			return nil
		}
	}
}

func (h *sourceHasher) workspace(gowork string) error {
	if err := h.optional("gowork", gowork); err != nil {
		return err
	}
	return h.optional("goworksum", filepath.Join(filepath.Dir(gowork), "go.work.sum"))
}

// file hashes one file that must exist: "key sha256".
func (h *sourceHasher) file(key, path string) error {
	sum, st, err := hashFile(path)
	if err != nil {
		return err
	}
	h.stats[path] = st
	h.line(key + " " + sum)
	return nil
}

// optional hashes a file that may be absent, recording the absence.
func (h *sourceHasher) optional(key, path string) error {
	if st := statOf(path); st.Size < 0 {
		h.stats[path] = st
		h.line(key + " absent")
		return nil
	}
	return h.file(key, path)
}

func (h *sourceHasher) dir(path string) {
	if _, ok := h.stats[path]; !ok {
		h.stats[path] = statOf(path)
	}
}

// sum hashes the sorted, de-duplicated lines, so the order go list prints
// packages in does not matter.
func (h *sourceHasher) sum() string {
	sort.Strings(h.lines)
	sh := sha256.New()
	prev := ""
	for i, l := range h.lines {
		if i > 0 && l == prev {
			continue
		}
		prev = l
		io.WriteString(sh, l)
		io.WriteString(sh, "\n")
	}
	return hex.EncodeToString(sh.Sum(nil))
}

// racyWindow is longer than the mtime granularity of any filesystem ladder
// is likely to meet (FAT has 2 seconds).
const racyWindow = 2 * time.Second

// racy reports whether any recorded mtime is too close to at for a later
// change to be guaranteed a different mtime (git's "racy clean" problem).
// Such a result is correct now but must not be trusted on the next build.
func (h *sourceHasher) racy(at time.Time) bool {
	limit := at.Add(-racyWindow).UnixNano()
	for _, st := range h.stats {
		if st.Size >= 0 && st.MTime >= limit {
			return true
		}
	}
	return false
}

// racyBeyond is racy for the files that are not top's own: those a
// recipe trusts by their stats (the main package's files it reads again).
func racyBeyond(stats []fileStat, at time.Time, top *listPkg) bool {
	own := map[string]bool{top.Dir: true}
	for _, f := range slices.Concat(top.GoFiles, top.IgnoredGoFiles, top.IgnoredOtherFiles) {
		own[filepath.Join(top.Dir, f)] = true
	}
	h := &sourceHasher{stats: map[string]fileStat{}}
	for _, st := range stats {
		if !own[st.Path] {
			h.stats[st.Path] = st
		}
	}
	return h.racy(at)
}

func (h *sourceHasher) statList() []fileStat {
	out := make([]fileStat, 0, len(h.stats))
	for _, st := range h.stats {
		out = append(out, st)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Path < out[k].Path })
	return out
}

// hashFile returns the sha256 of a file and its stat, taken from the open
// file before reading so a write during the read shows as a changed stat.
func hashFile(path string) (string, fileStat, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fileStat{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fileStat{}, err
	}
	if fi.IsDir() {
		return "", fileStat{}, fmt.Errorf("%s is a directory", path)
	}
	sh := sha256.New()
	if _, err := io.Copy(sh, f); err != nil {
		return "", fileStat{}, err
	}
	return hex.EncodeToString(sh.Sum(nil)), makeStat(path, fi), nil
}
