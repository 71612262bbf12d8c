package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// goBuildFlags are the flags of every go build. -trimpath and an empty
// build ID remove the checkout path and the per-machine build ID from the
// binary; -buildvcs=false keeps git state (which is not an input we hash)
// out of it. Together they make the binary a function of the inputs hash.
var goBuildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// goEnvKeys are read from `go env` once per toolchain (see toolchainKey).
var goEnvKeys = []string{
	"GOVERSION", "GOROOT", "GOMODCACHE", "GOFLAGS", "GOEXPERIMENT", "GOFIPS140",
	"GOAMD64", "GOARM", "GOARM64", "GO386", "GOMIPS", "GOMIPS64", "GOPPC64", "GORISCV64", "GOWASM",
}

// hashedGoEnv are the go env values that change the compiled code, and so
// belong in the inputs hash. Paths (GOROOT, GOMODCACHE) do not: -trimpath
// keeps them out of the binary.
var hashedGoEnv = []string{
	"GOVERSION", "GOEXPERIMENT", "GOFIPS140",
	"GOAMD64", "GOARM", "GOARM64", "GO386", "GOMIPS", "GOMIPS64", "GOPPC64", "GORISCV64", "GOWASM",
}

// session is the state shared by the services of one Build call.
type session struct {
	b       *Builder
	goBin   string   // absolute path of the go command
	env     []string // environment of every go command
	goarch  string
	goflags string // sanitised GOFLAGS, as set in env
	tc      toolchain
	cache   *statCache

	// index is the set of manifest digests in the layout's index.json,
	// loaded on first use; guarded by b.layoutMu.
	index map[string]bool

	// compiles are the go builds of this session by build context: the
	// binary depends on the context and the session's environment alone,
	// so services built from one context (an API and its worker) share
	// one compile.
	compileMu sync.Mutex
	compiles  map[string]*compile
	// recipes are this session's readings of the contexts' recipes
	// (recipeFor), guarded by compileMu; listed holds what the source
	// hash of each context listed (*listedMain), for making one.
	recipes map[string]*recipeCheck
	listed  sync.Map
}

// compile is one go build, shared by every service of its context.
type compile struct {
	done   chan struct{}
	bin    []byte
	output []byte
	err    error
	// trace is what the go command ran, when it ran (not a recipe).
	trace *goTrace
	// cancel ends a compile started ahead of its inputs hash (startCompile);
	// nil for one a service started when it needed it.
	cancel context.CancelFunc
	// claimed: a service waits for the binary (guarded by compileMu).
	claimed bool
}

// startCompile starts the go build of j's context, unless one started
// already, and returns without waiting: the services that need the
// binary claim it (claimCompile); endCompiles stops it if none does.
func (s *session) startCompile(ctx context.Context, j *job) {
	s.compileMu.Lock()
	defer s.compileMu.Unlock()
	if s.compiles == nil {
		s.compiles = map[string]*compile{}
	}
	if _, ok := s.compiles[j.context]; ok {
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	c := &compile{done: make(chan struct{}), cancel: cancel}
	s.compiles[j.context] = c
	go func() {
		defer close(c.done)
		c.bin, c.output, c.trace, c.err = s.b.goBuild(cctx, s, j)
	}()
}

// claimCompile returns the compile of j's context, and whether the caller
// must run it (none started yet).
func (s *session) claimCompile(j *job) (c *compile, run bool) {
	s.compileMu.Lock()
	defer s.compileMu.Unlock()
	if s.compiles == nil {
		s.compiles = map[string]*compile{}
	}
	c, ok := s.compiles[j.context]
	if !ok {
		c = &compile{done: make(chan struct{})}
		s.compiles[j.context] = c
	}
	c.claimed = true
	return c, !ok
}

// endCompiles stops the compiles started ahead that no service claimed
// (their inputs were found built after all) and waits for every compile
// started ahead to end, so none outlives the session.
func (s *session) endCompiles() {
	s.compileMu.Lock()
	var ahead []*compile
	for _, c := range s.compiles {
		if c.cancel == nil {
			continue
		}
		if !c.claimed {
			c.cancel()
		}
		ahead = append(ahead, c)
	}
	s.compileMu.Unlock()
	for _, c := range ahead {
		<-c.done
		c.cancel()
	}
}

// toolchain is what `go env` said, remembered in the stat cache under Key
// so that a warm build does not run go at all.
type toolchain struct {
	Key string            `json:"key"`
	Env map[string]string `json:"env"`
}

func (b *Builder) newSession(ctx context.Context) (*session, error) {
	return b.openSession(ctx, true)
}

// openSession loads the stat cache and, when withGo is set, finds and asks
// the go command. Stacks of Dockerfile services only need no Go toolchain.
func (b *Builder) openSession(ctx context.Context, withGo bool) (*session, error) {
	cacheDir := filepath.Join(b.opts.Dir, "cache")
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if !withGo {
		return &session{b: b, cache: loadStatCache(filepath.Join(cacheDir, "inputs.json"))}, nil
	}
	base := mergeEnv(os.Environ(), b.opts.Env)
	goBin, err := lookGo(base)
	if err != nil {
		return nil, err
	}
	s := &session{
		b:      b,
		goBin:  goBin,
		goarch: runtime.GOARCH,
		cache:  loadStatCache(filepath.Join(cacheDir, "inputs.json")),
	}
	// The target is fixed: a static linux binary for this host's
	// architecture, built by exactly the installed toolchain (no automatic
	// toolchain download that would make the result depend on the network).
	forced := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + s.goarch, "GOTOOLCHAIN=local"}
	key := toolchainKey(goBin, base)
	if tc, ok := s.cache.toolchain(key); ok {
		s.tc = tc
	} else {
		// Asked with the caller's GOFLAGS untouched: go env also reads the
		// GOENV file, and we need the effective value to sanitise it.
		s.env = mergeEnv(base, forced)
		out, err := s.command(ctx, b.opts.Dir, append([]string{"env", "-json"}, goEnvKeys...)...).Output()
		if err != nil {
			return nil, fmt.Errorf("build: go env: %v%s", err, stderrOf(err))
		}
		s.tc = toolchain{Key: key, Env: map[string]string{}}
		if err := json.Unmarshal(out, &s.tc.Env); err != nil {
			return nil, fmt.Errorf("build: go env: %w", err)
		}
		s.cache.setToolchain(s.tc)
	}
	s.goflags = sanitizeGoflags(s.tc.Env["GOFLAGS"])
	// GOFLAGS is never empty: an empty value would let the GOENV file's
	// GOFLAGS apply again.
	s.env = mergeEnv(base, forced, []string{"GOFLAGS=" + s.goflags})
	return s, nil
}

// command returns a go command run in dir with the session's environment.
func (s *session) command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	if h := s.b.goHook; h != nil {
		h(args)
	}
	cmd := exec.CommandContext(ctx, s.goBin, args...)
	cmd.Dir = dir
	cmd.Env = s.env
	return cmd
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return "\n" + tail(ee.Stderr, 20)
	}
	return ""
}

// sanitizeGoflags keeps the GOFLAGS that only choose what to build (module
// mode, tags) and drops everything else (-race, -cover, -toolexec,
// -ldflags, -buildvcs, ...), which would change the binary in ways the
// inputs hash does not see or make it unreproducible.
func sanitizeGoflags(v string) string {
	kept := []string{"-buildvcs=false"}
	for _, f := range strings.Fields(v) {
		name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		switch name {
		case "mod", "modcacherw", "tags":
			kept = append(kept, f)
		}
	}
	return strings.Join(kept, " ")
}

// mergeEnv merges environment lists, later entries winning, into a sorted
// list with one entry per variable.
func mergeEnv(lists ...[]string) []string {
	m := map[string]string{}
	for _, l := range lists {
		for _, kv := range l {
			k, v, ok := strings.Cut(kv, "=")
			if ok && k != "" {
				m[k] = v
			}
		}
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func getenv(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// lookGo finds the go command on the PATH of env (which may differ from
// ladder's own PATH when Options.Env sets one).
func lookGo(env []string) (string, error) {
	for _, dir := range filepath.SplitList(getenv(env, "PATH")) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, "go")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return filepath.Abs(p)
		}
	}
	return "", fmt.Errorf("build: the go command is not on PATH; Go services need a Go toolchain")
}

// toolchainKey identifies the toolchain and its configuration without
// running it: the go binary (a new toolchain replaces it), the GOENV file
// (`go env -w` rewrites it) and every GO*/CGO_* variable. While the key is
// unchanged, so is what `go env` says, and so are the file sets go list
// would select.
func toolchainKey(goBin string, env []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", BuilderVersion)
	writeStat := func(p string) {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		st := statOf(p)
		fmt.Fprintf(h, "stat %s %d %d %d %d\n", p, st.Size, st.MTime, st.CTime, st.Ino)
	}
	writeStat(goBin)
	goenv := getenv(env, "GOENV")
	if goenv == "" {
		if dir, err := os.UserConfigDir(); err == nil {
			goenv = filepath.Join(dir, "go", "env")
		}
	}
	if goenv != "" && goenv != "off" {
		writeStat(goenv)
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "GO") || strings.HasPrefix(kv, "CGO_") {
			fmt.Fprintf(h, "env %s\n", kv)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// armVariant is the OCI platform variant for GOARCH=arm ("v7"), empty for
// other architectures.
func armVariant(goarch, goarm string) string {
	if goarch != "arm" || goarm == "" {
		return ""
	}
	return "v" + goarm[:1]
}
