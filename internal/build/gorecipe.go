package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	gobuild "go/build"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// A goRecipe is how the go command last compiled and linked one build
// context's main package: the compiler's and the linker's command lines,
// read from the trace of a go build that ran them, with their import
// configurations.
//
// While a change stays inside the main package's own files (the same
// files, imports and //go: directives, and nothing else the build reads
// changed), the recipe rebuilds the binary by running the compiler and the
// linker directly. That skips what the go command does before it compiles
// anything, loading every package of the build and hashing it to find what
// is stale, which is a good part of rebuilding one changed package. The
// binary is go build's, byte for byte: a recipe is only used once a replay
// of it gave the bytes go build gave.
//
// The inputs hash comes from the recipe too: it keeps the lines of the
// source hash that are not the main package's files, and those files are
// hashed again, which is the hash go list would have led to.
type goRecipe struct {
	toolchain  string // the toolchain key it was made under
	dir        string // the build context: the main package's directory
	importPath string
	env        []string // the tools' environment
	// goFiles, ignored and other are the main package's files as go list
	// saw them (GoFiles, IgnoredGoFiles, IgnoredOtherFiles); imports and
	// directives are what go/build read from them.
	goFiles, ignored, other []string
	imports, directives     []string
	bctx                    gobuild.Context
	// compile and link have the paths of one build replaced by the
	// placeholders of replay; so do the import configurations.
	compile, link      toolRun
	importcfg, linkcfg []byte
	// archives are the compiled packages the link reads from the build cache.
	archives []string
	// deps are the stats of everything else the source hash read; lines
	// are its lines other than the main package's files.
	deps  []fileStat
	lines []string
}

// Placeholders of a recipe's command lines, replaced by the paths of each
// replay.
const (
	phSrc     = "\x00src"       // the directory holding the main package's files
	phArchive = "\x00archive"   // the compiled main package
	phCfg     = "\x00importcfg" // the compile's import configuration
	phLinkCfg = "\x00linkcfg"   // the link's
	phApp     = "\x00app"       // the linked binary
)

// listedMain is what the source hash learnt about a context's main package
// and the rest of its build, kept for making a recipe.
type listedMain struct {
	top   *listPkg
	lines []string
	stats []fileStat
	// trusted: go list loaded everything, and nothing but the main
	// package's files was written while it was hashed.
	trusted bool
}

// mainKeys are the source hash keys of the main package's files.
func mainKeys(importPath string, lists ...[]string) map[string]bool {
	keys := map[string]bool{}
	for _, l := range lists {
		for _, f := range l {
			keys["file "+importPath+"/"+filepath.ToSlash(f)] = true
		}
	}
	return keys
}

// newRecipe makes a recipe from a go build's trace and what the source
// hash listed, or says why it cannot. The recipe still has to be proven
// (see prove).
func newRecipe(s *session, dir string, l *listedMain, t *goTrace) (*goRecipe, error) {
	top := l.top
	switch {
	case !l.trusted:
		return nil, errors.New("the build's other files were being written, or go list did not load everything")
	case t.compile == nil || t.link == nil:
		return nil, errors.New("the trace has no compile of package main, or no link")
	case t.importcfg == nil || t.linkcfg == nil:
		return nil, errors.New("the trace's import configurations were not kept")
	case len(top.CgoFiles)+len(top.CFiles)+len(top.CXXFiles)+len(top.HFiles)+len(top.SFiles)+len(top.SysoFiles)+len(top.EmbedFiles) > 0:
		return nil, errors.New("the main package has files other than Go files, or embeds files")
	}
	r := &goRecipe{
		toolchain: s.tc.Key, dir: dir, importPath: top.ImportPath, env: s.toolEnv(),
		goFiles: top.GoFiles, ignored: top.IgnoredGoFiles, other: top.IgnoredOtherFiles,
	}
	work := t.work
	// The compile: its output, import configuration and source directory
	// become placeholders; its files must be the package's Go files.
	c := toolRun{Env: t.compile.Env, Argv: slices.Clone(t.compile.Argv)}
	archive := ""
	files := -1
	for i := 1; i < len(c.Argv); i++ {
		switch a := c.Argv[i]; {
		case a == "-o" && i+1 < len(c.Argv):
			archive, c.Argv[i+1] = c.Argv[i+1], phArchive
			i++
		case a == "-importcfg" && i+1 < len(c.Argv):
			c.Argv[i+1] = phCfg
			i++
		case a == "-trimpath" && i+1 < len(c.Argv):
			rewrites := strings.Split(c.Argv[i+1], ";")
			for k, rw := range rewrites {
				if from, to, ok := strings.Cut(rw, "=>"); ok && from == t.compile.Dir {
					rewrites[k] = phSrc + "=>" + to
				}
			}
			c.Argv[i+1] = strings.Join(rewrites, ";")
			i++
		case a == "-pack":
			files = i + 1
		case a == "-embedcfg" || a == "-asmhdr" || a == "-symabis" || a == "-pgoprofile" || strings.HasPrefix(a, "-pgoprofile="):
			return nil, fmt.Errorf("the compile reads %s", a)
		}
	}
	if archive == "" || files < 0 || t.compile.Dir != dir {
		return nil, errors.New("the compile's command line is not the one expected")
	}
	var want []string
	for _, f := range top.GoFiles {
		want = append(want, "./"+f)
	}
	if !slices.Equal(c.Argv[files:], want) {
		return nil, errors.New("the compile's files are not the package's Go files")
	}
	// The link: its output, import configuration and the main archive.
	k := toolRun{Env: t.link.Env, Argv: slices.Clone(t.link.Argv)}
	for i := 1; i < len(k.Argv); i++ {
		switch a := k.Argv[i]; {
		case a == "-o" && i+1 < len(k.Argv):
			k.Argv[i+1] = phApp
			i++
		case a == "-importcfg" && i+1 < len(k.Argv):
			k.Argv[i+1] = phLinkCfg
			i++
		case a == archive:
			k.Argv[i] = phArchive
		}
	}
	for _, run := range []toolRun{c, k} {
		for _, a := range run.Argv {
			if strings.Contains(a, work) && !strings.Contains(a, "=>") {
				return nil, fmt.Errorf("%s reads %s from the build's work directory", toolName(run.Argv[0]), a)
			}
		}
	}
	r.compile, r.link = c, k
	// Import configurations: packages compiled in this build are read
	// from their copies in the build cache; the main package's archive
	// is the replay's.
	rewrite := func(cfg []byte, main bool) ([]byte, error) {
		var out bytes.Buffer
		for i, line := range strings.Split(strings.TrimSuffix(string(cfg), "\n"), "\n") {
			if i > 0 {
				out.WriteByte('\n')
			}
			name, path, ok := strings.Cut(strings.TrimPrefix(line, "packagefile "), "=")
			if !ok || !strings.HasPrefix(line, "packagefile ") {
				if strings.Contains(line, work) {
					return nil, errors.New("an import configuration names the build's work directory")
				}
				out.WriteString(line)
				continue
			}
			switch cached, inCache := t.cached[path]; {
			case main && path == archive:
				path = phArchive
			case inCache:
				path = cached
			case strings.HasPrefix(path, work):
				return nil, fmt.Errorf("package %s was built in the work directory and not cached", name)
			}
			if path != phArchive && main {
				r.archives = append(r.archives, path)
			}
			out.WriteString("packagefile " + name + "=" + path)
		}
		return out.Bytes(), nil
	}
	var err error
	if r.importcfg, err = rewrite(t.importcfg, false); err != nil {
		return nil, err
	}
	if r.linkcfg, err = rewrite(t.linkcfg, true); err != nil {
		return nil, err
	}
	if top.Dir != dir {
		return nil, errors.New("go list placed the main package elsewhere than its build context")
	}

	keys := mainKeys(top.ImportPath, top.GoFiles, top.IgnoredGoFiles, top.IgnoredOtherFiles)
	for _, line := range l.lines {
		if i := strings.LastIndexByte(line, ' '); i > 0 && keys[line[:i]] {
			continue
		}
		r.lines = append(r.lines, line)
	}
	own := map[string]bool{dir: true}
	for _, f := range slices.Concat(top.GoFiles, top.IgnoredGoFiles, top.IgnoredOtherFiles) {
		own[filepath.Join(dir, f)] = true
	}
	for _, st := range l.stats {
		if !own[st.Path] {
			r.deps = append(r.deps, st)
		}
	}
	return r, nil
}

// toolEnv is the environment the compiler and the linker run with: the go
// command's, with the target and the toolchain's settings made explicit as
// the go command makes them for its tools.
func (s *session) toolEnv() []string {
	set := []string{"GOOS=linux", "GOARCH=" + s.goarch}
	for _, k := range []string{"GOROOT", "GOEXPERIMENT", "GOFIPS140", "GOAMD64", "GOARM", "GOARM64", "GO386", "GOMIPS", "GOMIPS64", "GOPPC64", "GORISCV64", "GOWASM"} {
		if v := s.tc.Env[k]; v != "" {
			set = append(set, k+"="+v)
		}
	}
	return mergeEnv(s.env, set)
}

// readPackage reads the main package's directory as the go command does,
// with its build context.
func (r *goRecipe) readPackage() (*gobuild.Package, error) {
	p, err := r.bctx.ImportDir(r.dir, 0)
	if err != nil {
		return nil, err
	}
	if p.Name != "main" {
		return nil, fmt.Errorf("the package is %s, not main", p.Name)
	}
	if n := len(p.CgoFiles) + len(p.CFiles) + len(p.CXXFiles) + len(p.MFiles) + len(p.HFiles) + len(p.FFiles) +
		len(p.SFiles) + len(p.SwigFiles) + len(p.SwigCXXFiles) + len(p.SysoFiles) + len(p.EmbedPatterns) + len(p.InvalidGoFiles); n > 0 {
		return nil, errors.New("the package has files other than Go files, or embeds files")
	}
	return p, nil
}

// matches reports whether p is the package the recipe was made from, file
// list for file list, with the same imports and directives.
func (r *goRecipe) matches(p *gobuild.Package) bool {
	return slices.Equal(p.GoFiles, r.goFiles) && slices.Equal(p.IgnoredGoFiles, r.ignored) &&
		slices.Equal(p.IgnoredOtherFiles, r.other) && slices.Equal(p.Imports, r.imports) &&
		slices.Equal(directivesOf(p), r.directives)
}

// directivesOf lists a package's //go: directives (//go:debug changes what
// the linker is told) with their files.
func directivesOf(p *gobuild.Package) []string {
	var out []string
	for _, d := range p.Directives {
		out = append(out, filepath.Base(d.Pos.Filename)+" "+d.Text)
	}
	slices.Sort(out)
	return out
}

// recipeState is a recipe checked against the files as they are now: the
// main package's Go files as read and hashed, the source hash, and the
// stat cache entry that goes with it.
type recipeState struct {
	r       *goRecipe
	sources map[string][]byte
	source  string
	entry   *cacheEntry
}

// check tells whether the recipe builds the context as it is now, and if
// so reads and hashes the main package's files.
func (r *goRecipe) check(toolchainKey string) (*recipeState, error) {
	at := time.Now()
	if toolchainKey != r.toolchain {
		return nil, errors.New("the toolchain changed")
	}
	for _, st := range r.deps {
		if statOf(st.Path) != st {
			return nil, fmt.Errorf("%s changed", st.Path)
		}
	}
	for _, a := range r.archives {
		if _, err := os.Stat(a); err != nil {
			return nil, fmt.Errorf("a compiled package left the build cache: %w", err)
		}
	}
	p, err := r.readPackage()
	if err != nil {
		return nil, err
	}
	if !r.matches(p) {
		return nil, errors.New("the main package's files, imports or directives changed")
	}
	st := &recipeState{r: r, sources: map[string][]byte{}}
	h := &sourceHasher{lines: slices.Clone(r.lines), stats: map[string]fileStat{}}
	for _, f := range slices.Concat(r.goFiles, r.ignored, r.other) {
		path := filepath.Join(r.dir, f)
		data, fst, err := readStat(path)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		h.stats[path] = fst
		h.line("file " + r.importPath + "/" + filepath.ToSlash(f) + " " + hex.EncodeToString(sum[:]))
		if slices.Contains(r.goFiles, f) {
			st.sources[f] = data
		}
	}
	h.dir(r.dir)
	for _, d := range r.deps {
		h.stats[d.Path] = d
	}
	st.source = h.sum()
	st.entry = &cacheEntry{Toolchain: r.toolchain, Source: st.source, Files: h.statList(), Untrusted: h.racy(at)}
	return st, nil
}

// readStat reads a file and returns its stat, taken from the open file
// before reading (as hashFile does).
func readStat(path string) ([]byte, fileStat, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileStat{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileStat{}, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fileStat{}, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSourceFile+1))
	if err != nil {
		return nil, fileStat{}, err
	}
	if len(data) > maxSourceFile {
		return nil, fileStat{}, fmt.Errorf("%s is larger than %d MiB", path, maxSourceFile>>20)
	}
	return data, makeStat(path, fi), nil
}

// linkerGC is the garbage collector setting a replayed link runs with.
// The compiler sizes its own heap before it collects; the linker does not,
// and at the default it spends about a tenth of its CPU time collecting a
// heap that stays small (most of what it writes is a mapped output file).
// Five times the live heap between collections takes most of that back, a
// CPU a busy machine can give to the rest of the rebuild, while memory
// stays bounded by what the link keeps. The binary does not depend on it:
// replays are proven byte-identical to go build's with it set.
const linkerGC = "GOGC=400"

// maxSourceFile bounds a Go source file a recipe reads into memory; the
// go command takes over beyond it.
const maxSourceFile = 32 << 20

// replay builds st's binary with the recipe: the main package's files as
// they were hashed are written to a directory of their own and compiled
// there, so the binary is of exactly the bytes the inputs hash covers,
// whatever is saved meanwhile. A failed compile returns the compiler's
// output as go build shows it.
func (b *Builder) replay(ctx context.Context, st *recipeState) (bin, output []byte, err error) {
	r := st.r
	tmp, err := b.mkTemp(filepath.Join(b.opts.Dir, "tmp"), "go-replay-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		return nil, nil, err
	}
	for name, data := range st.sources {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			return nil, nil, err
		}
	}
	paths := strings.NewReplacer(
		phSrc, src,
		phArchive, filepath.Join(tmp, "_pkg_.a"),
		phCfg, filepath.Join(tmp, "importcfg"),
		phLinkCfg, filepath.Join(tmp, "importcfg.link"),
		phApp, filepath.Join(tmp, "app"),
	)
	if err := os.WriteFile(filepath.Join(tmp, "importcfg"), r.importcfg, 0o644); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "importcfg.link"), []byte(paths.Replace(string(r.linkcfg))), 0o644); err != nil {
		return nil, nil, err
	}
	run := func(t toolRun, dir string, extra ...string) ([]byte, error) {
		argv := make([]string, len(t.Argv))
		for i, a := range t.Argv {
			argv[i] = paths.Replace(a)
		}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = mergeEnv(r.env, t.Env, []string{"PWD=" + dir}, extra)
		return cmd.CombinedOutput()
	}
	begun := time.Now()
	if out, err := run(r.compile, src); err != nil {
		return nil, append([]byte("# "+r.importPath+"\n"), out...), err
	}
	compiled := time.Now()
	if out, err := run(r.link, tmp, linkerGC); err != nil {
		return nil, append([]byte("# "+r.importPath+"\n"), out...), err
	}
	b.opts.logger().Debug("go build: replay", "package", r.importPath, "compile", compiled.Sub(begun), "link", time.Since(compiled))
	bin, err = os.ReadFile(filepath.Join(tmp, "app"))
	return bin, nil, err
}

// recipeFor returns the context's proven recipe, checked against the files
// as they are now, once per session: the inputs hash and the compile use
// the same reading. It is nil when the context has no recipe or the
// recipe does not build it as it is now (the go command does).
func (s *session) recipeFor(j *job) *recipeState {
	s.compileMu.Lock()
	rc, ok := s.recipes[j.context]
	if !ok {
		if s.recipes == nil {
			s.recipes = map[string]*recipeCheck{}
		}
		rc = &recipeCheck{}
		s.recipes[j.context] = rc
	}
	s.compileMu.Unlock()
	rc.once.Do(func() {
		if !s.b.opts.Recipes {
			return
		}
		r := s.b.memo.recipe(j.context)
		if r == nil {
			return
		}
		st, err := r.check(s.tc.Key)
		if err != nil {
			s.b.opts.logger().Debug("go build: the recipe does not apply", "service", j.service, "why", err)
			return
		}
		rc.st = st
	})
	return rc.st
}

// recipeCheck is one session's reading of a recipe.
type recipeCheck struct {
	once sync.Once
	st   *recipeState
}

// learn makes a recipe from the trace of a go build that compiled j's
// main package into bin, and proves it in the background: the recipe
// becomes the context's once a replay gives bin's bytes. Nothing is
// learnt when the session did not list the package (its inputs came
// from the stat cache).
func (b *Builder) learn(s *session, j *job, t *goTrace, bin []byte) {
	v, ok := s.listed.Load(j.context)
	if !ok {
		return
	}
	r, err := newRecipe(s, j.context, v.(*listedMain), t)
	if err != nil {
		b.opts.logger().Debug("go build: no recipe", "service", j.service, "why", err)
		return
	}
	if !b.memo.startProof(j.context) {
		return
	}
	goBin, env := s.goBin, s.env
	go func() {
		defer b.memo.endProof(j.context)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		begun := time.Now()
		if err := b.prove(ctx, r, goBin, env, bin); err != nil {
			b.opts.logger().Debug("go build: recipe not proven", "service", j.service, "why", err)
			return
		}
		b.memo.setRecipe(j.context, r)
		b.opts.logger().Debug("go build: recipe proven", "service", j.service, "took", time.Since(begun))
	}()
}

// prove completes r and replays it: it learns the go command's build
// context, reads the main package with it (which must agree with what go
// list saw), and compiles and links the files as they are now, which must
// give want.
func (b *Builder) prove(ctx context.Context, r *goRecipe, goBin string, env []string, want []byte) error {
	bctx, err := b.memo.goContext(r.toolchain, func() (gobuild.Context, error) { return goListContext(ctx, goBin, env, r.dir) })
	if err != nil {
		return err
	}
	r.bctx = bctx
	p, err := r.readPackage()
	if err != nil {
		return err
	}
	if !slices.Equal(p.GoFiles, r.goFiles) || !slices.Equal(p.IgnoredGoFiles, r.ignored) || !slices.Equal(p.IgnoredOtherFiles, r.other) {
		return fmt.Errorf("go/build and go list select different files: %q %q %q, go list %q %q %q", p.GoFiles, p.IgnoredGoFiles, p.IgnoredOtherFiles, r.goFiles, r.ignored, r.other)
	}
	r.imports, r.directives = p.Imports, directivesOf(p)
	st, err := r.check(r.toolchain)
	if err != nil {
		return err
	}
	got, out, err := b.replay(ctx, st)
	if err != nil {
		return fmt.Errorf("replaying: %v\n%s", err, out)
	}
	if !bytes.Equal(got, want) {
		return errors.New("the replay's binary is not go build's (or a file changed meanwhile)")
	}
	return nil
}

// goListContext asks the go command for its build context: the tags that
// decide which files of a package are built.
func goListContext(ctx context.Context, goBin string, env []string, dir string) (gobuild.Context, error) {
	cmd := exec.CommandContext(ctx, goBin, "list", "-e", "-f",
		`{{join context.ReleaseTags ","}}|{{join context.ToolTags ","}}|{{join context.BuildTags ","}}|{{context.GOOS}}|{{context.GOARCH}}|{{context.CgoEnabled}}|{{context.GOROOT}}|{{context.Compiler}}`, ".")
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return gobuild.Context{}, fmt.Errorf("go list: %v%s", err, stderrOf(err))
	}
	f := strings.Split(strings.TrimSpace(string(out)), "|")
	if len(f) != 8 {
		return gobuild.Context{}, fmt.Errorf("go list: unexpected output %q", out)
	}
	list := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	c := gobuild.Default
	c.ReleaseTags, c.ToolTags, c.BuildTags = list(f[0]), list(f[1]), list(f[2])
	c.GOOS, c.GOARCH, c.CgoEnabled, c.GOROOT, c.Compiler = f[3], f[4], f[5] == "true", f[6], f[7]
	c.GOPATH, c.Dir = "", ""
	return c, nil
}
