package build

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// BuilderVersion is mixed into every inputs hash. Bump it whenever the way
// ladder compiles or assembles images changes, so that artifacts made by an
// older ladder are rebuilt instead of being reused under the same inputs.
const BuilderVersion = "ladder-go/3"

// Builder names recorded in snapshot.Artifact.Builder.
const (
	builderGo         = "go"
	builderDockerfile = "dockerfile"
)

// Progress states, in the order a service goes through them.
const (
	StateChecking = "checking"
	StateCached   = "cached"
	StateBuilding = "building"
	StateBuilt    = "built"
	StateFailed   = "failed"
	// StateNotice is a line about the whole build (Service empty, Detail
	// set), such as the classic builder standing in for a missing BuildKit.
	StateNotice = "notice"
)

// ErrDockerfile is returned (wrapped, naming the service and DOCKER_HOST)
// for a service whose build context is a Dockerfile build when the Builder
// has no Docker engine (Options.Docker is nil).
var ErrDockerfile = errors.New("Dockerfile builds need a Docker engine")

// Options configures a Builder.
type Options struct {
	Store    store.Store
	Dir      string         // artifact store root; OCI layout lives here, caches under Dir/cache
	Progress func(Progress) // may be nil
	Parallel int            // concurrent builds, default 2
	Env      []string       // extra environment for the go tool

	// Docker builds the services whose context has a Dockerfile (see
	// NewDockerClient). Nil refuses them with an error wrapping
	// ErrDockerfile; Go services never use it.
	Docker DockerEngine
	// BuildKitHost is the address of the BuildKit that builds Dockerfiles
	// (as buildx's remote driver takes it: unix:///run/buildkit/buildkitd.sock,
	// tcp://host:1234). Empty means the Docker engine's own BuildKit, or its
	// classic builder where it has none; BuildKitClassic means the classic
	// builder.
	BuildKitHost string
	// StateDir is ladder's state directory (.ladder). Neither it nor Dir
	// is ever part of a build context.
	StateDir string
	// Shared is the machine's store of image copies that every project's
	// artifact store has in common (see shared.go), usually
	// DefaultShared(); "" for none.
	Shared string
	// Log receives the output of Dockerfile builds line by line as it
	// arrives. May be nil; never called concurrently (nor concurrently
	// with Progress).
	Log func(service, line string)
	// Logger receives warnings (an unpacked image found altered). May be
	// nil.
	Logger *slog.Logger
	// Memo is shared by the builders of one process, so that what one
	// learns about an artifact (or has just built) serves the others;
	// nil gives the Builder a Memo of its own.
	Memo *Memo
	// Recipes has Go builds traced and learnt as recipes, and rebuilt with
	// them where they apply (see goRecipe). It is for a process that
	// rebuilds the same services again and again (`up --watch`): proving
	// a recipe costs a compile and a link in the background, which a
	// one-off build would pay for nothing.
	Recipes bool
	// PlainLayers stores the layer of a Go image as a plain tar instead of
	// gzip: its digest is then the hash of the tar, ready as soon as the
	// binary is hashed, where compressing a binary of several megabytes
	// takes longer than hashing it. It is for the inner loop (`up
	// --watch`), whose throwaway images are made on every save and rarely
	// leave the machine; it is part of the inputs hash, so such an image
	// is never taken for the compressed one of the same sources.
	PlainLayers bool
	// Unpack has every Go image unpacked for the process target in the
	// background as soon as it is stored, while the snapshot is recorded
	// and the deploy prepared, instead of when the target starts it. It
	// is for a process whose Go services run as processes (`up --watch`
	// on the process target).
	Unpack bool
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Progress reports one step of one service's build. The callback is never
// called concurrently, so it need not be safe for concurrent use.
type Progress struct {
	Service string
	// State is one of "checking", "cached", "building", "built", "failed".
	State string
	// Duration is the time spent on the service so far.
	Duration time.Duration
	// Size and Digest describe the artifact ("cached" and "built").
	Size   int64
	Digest string
	// Err is why the build failed ("failed").
	Err error

	// Image services (see Pin): Image is the reference as the stack
	// writes it; Source is where the bytes come from ("registry" or
	// "engine"); while "pulling", Layers of LayersTotal layers and Bytes
	// of BytesTotal bytes are in the artifact store (BytesTotal is 0 when
	// unknown).
	Image               string
	Source              string
	Layers, LayersTotal int
	Bytes, BytesTotal   int64
	// Detail is the text of a "notice".
	Detail string
}

// Report summarises one Build call.
type Report struct {
	// Built and Cached are the services built and reused, sorted.
	Built  []string `json:"built"`
	Cached []string `json:"cached"`
	// BuildTime is the wall-clock time Build took.
	BuildTime time.Duration `json:"buildTime"`
	// Pulled are the image services whose image was copied into the
	// artifact store now (see Pin); those already there are in Cached.
	Pulled []string `json:"pulled,omitempty"`
	// Moved are tags that point elsewhere than where they were pinned;
	// those found by registry checks are added by WaitMoved.
	Moved []MovedTag `json:"moved,omitempty"`

	// pending are registry checks still running, and cancel stops them.
	pending []func() *MovedTag
	cancel  func()
}

// Builder builds a stack's services into artifacts. It is safe for
// concurrent use.
type Builder struct {
	opts Options

	// layoutMu serialises writes to the OCI layout's index.json, which is
	// rewritten whole on every append.
	layoutMu sync.Mutex
	// progressMu serialises the Progress callback.
	progressMu sync.Mutex
	// ahead are the unpacks started in the background (Options.Unpack).
	ahead sync.WaitGroup
	// memo holds what is known about artifacts by digest, shared with
	// the other builders of the process that were given the same Memo.
	memo *Memo
	// swept holds the temporary roots already cleared of directories
	// left by dead processes (see mkTemp).
	swept sync.Map
	// index caches the parsed layout index for image lookups.
	index indexCache
	// bkOnce chooses, and bk is, what builds Dockerfiles (see backend).
	bkOnce sync.Once
	bk     *dockerBackend
	// baseMu serialises copying base images into the layout.
	baseMu sync.Mutex

	// goHook, when set, is called before every go command runs, with its
	// arguments. Tests use it to prove what did (not) run.
	goHook func(args []string)
}

// New returns a Builder for opts.
func New(opts Options) *Builder {
	if opts.Parallel <= 0 {
		opts.Parallel = 2
	}
	// Absolute, so that Rootfs hands out directories that stay valid when
	// the caller changes directory, and go commands (run elsewhere) agree.
	if opts.Dir != "" {
		if abs, err := filepath.Abs(opts.Dir); err == nil {
			opts.Dir = abs
		}
	}
	memo := opts.Memo
	if memo == nil {
		memo = NewMemo()
	}
	return &Builder{opts: opts, memo: memo}
}

// job is one service to build.
type job struct {
	service string
	context string   // absolute build context directory
	ports   []string // exposed container ports, "8080/tcp", sorted
	docker  *dockerSpec
	// labels are the image's labels (build.labels), beside the ones
	// ladder sets itself.
	labels map[string]string
	// bases are the images a Dockerfile build reads, found with its inputs.
	bases []snapshot.BaseImage
}

func needsGo(jobs []*job) bool {
	for _, j := range jobs {
		if j.docker == nil {
			return true
		}
	}
	return false
}

// outcome is what became of one job.
type outcome struct {
	art    snapshot.Artifact
	cached bool
	err    error
}

// Build returns the artifact of every service that has a build section,
// building only those whose inputs changed or whose image is missing from
// the layout. Services without a build section are skipped. Every failing
// service's error is returned together (errors.Join) along with the
// artifacts of the services that succeeded, which are stored and cached as
// usual.
func (b *Builder) Build(ctx context.Context, stack *spec.Stack) (map[string]snapshot.Artifact, *Report, error) {
	start := time.Now()
	report := &Report{}
	arts := map[string]snapshot.Artifact{}
	if stack == nil || stack.Compose == nil {
		return arts, report, errors.New("build: no stack")
	}
	if b.opts.Store == nil || b.opts.Dir == "" {
		return arts, report, errors.New("build: Options.Store and Options.Dir are required")
	}
	jobs, planErrs := b.plan(stack)
	errs := planErrs
	for _, name := range sortedKeys(planErrs) {
		b.emit(Progress{Service: name, State: StateFailed, Err: planErrs[name]})
	}
	if len(jobs) > 0 {
		s, err := b.openSession(ctx, needsGo(jobs))
		if err != nil {
			return arts, report, errors.Join(err, joinSorted(errs))
		}
		defer s.endCompiles()
		outs := make([]outcome, len(jobs))
		sem := make(chan struct{}, b.opts.Parallel)
		var wg sync.WaitGroup
		for i, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				outs[i] = b.buildOne(ctx, s, j)
			}()
		}
		wg.Wait()
		for i, o := range outs {
			name := jobs[i].service
			switch {
			case o.err != nil:
				errs[name] = o.err
			case o.cached:
				arts[name] = o.art
				report.Cached = append(report.Cached, name)
			default:
				arts[name] = o.art
				report.Built = append(report.Built, name)
			}
		}
		// A cache that cannot be saved costs the next build its fast path
		// only, but it also means the state directory is not writable,
		// which the caller should hear about.
		if err := s.cache.save(); err != nil {
			errs[""] = fmt.Errorf("saving the build input cache: %w", err)
		}
	}
	report.BuildTime = time.Since(start)
	return arts, report, joinSorted(errs)
}

// joinSorted joins errs in service-name order so the message is stable.
func joinSorted(errs map[string]error) error {
	var list []error
	for _, name := range sortedKeys(errs) {
		list = append(list, errs[name])
	}
	return errors.Join(list...)
}

func sortedKeys(m map[string]error) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// buildOne takes one service from inputs to artifact, reusing the stored
// artifact when its inputs are unchanged and its image is still present.
func (b *Builder) buildOne(ctx context.Context, s *session, j *job) outcome {
	start := time.Now()
	fail := func(err error) outcome {
		b.emit(Progress{Service: j.service, State: StateFailed, Duration: time.Since(start), Err: err})
		return outcome{err: err}
	}
	b.emit(Progress{Service: j.service, State: StateChecking})
	inputs, err := s.inputs(ctx, j, func() { s.startCompile(ctx, j) })
	if err != nil {
		return fail(err)
	}
	art, err := b.opts.Store.LookupArtifact(ctx, j.service, inputs)
	switch {
	case err == nil && s.hasImage(art.Digest):
		// The inputs cover the base images' IDs, so these are the ones
		// the stored artifact was built on.
		art.Bases = j.bases
		b.emit(Progress{Service: j.service, State: StateCached, Duration: time.Since(start), Size: art.Size, Digest: art.Digest})
		return outcome{art: art, cached: true}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fail(fmt.Errorf("service %q: looking up the cached artifact: %w", j.service, err))
	}
	b.emit(Progress{Service: j.service, State: StateBuilding, Duration: time.Since(start)})
	if j.docker != nil {
		art, err = b.buildDockerfile(ctx, s, j, inputs)
	} else {
		art, err = b.buildGo(ctx, s, j, inputs)
	}
	if err != nil {
		return fail(err)
	}
	if err := b.opts.Store.PutArtifact(ctx, art); err != nil {
		return fail(fmt.Errorf("service %q: recording the artifact: %w", j.service, err))
	}
	b.emit(Progress{Service: j.service, State: StateBuilt, Duration: time.Since(start), Size: art.Size, Digest: art.Digest})
	return outcome{art: art}
}

// compileGo returns the compile of j's context, which has its binary:
// go build runs once per build context in a session, and services that
// share a context share its binary.
func (b *Builder) compileGo(ctx context.Context, s *session, j *job) (*compile, error) {
	c, run := s.claimCompile(j)
	if run {
		c.bin, c.output, c.trace, c.err = b.goBuild(ctx, s, j)
		close(c.done)
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if c.err != nil {
		if c.output != nil {
			return nil, fmt.Errorf("service %q: go build failed (%v):\n%s", j.service, c.err, tail(c.output, 20))
		}
		return nil, fmt.Errorf("service %q: %w", j.service, c.err)
	}
	return c, nil
}

// goBuild builds j's main package: with the context's recipe when it
// applies, otherwise with go build, traced so that a recipe can be learnt
// from it. A failed build returns what the compiler printed.
func (b *Builder) goBuild(ctx context.Context, s *session, j *job) (bin, output []byte, trace *goTrace, err error) {
	if st := s.recipeFor(j); st != nil {
		begun := time.Now()
		bin, output, err := b.replay(ctx, st)
		if err == nil {
			b.opts.logger().Debug("go build: replayed the recipe", "service", j.service, "took", time.Since(begun))
			return bin, nil, nil, nil
		}
		if ctx.Err() != nil {
			return nil, nil, nil, ctx.Err()
		}
		// The go command has the last word, on errors too.
		b.memo.dropRecipe(j.context, st.r)
		b.opts.logger().Debug("go build: the recipe failed; running go build", "service", j.service, "err", err, "output", string(output))
	}
	tmp, err := b.mkTemp(filepath.Join(b.opts.Dir, "tmp"), "go-"+safeName(j.service)+"-")
	if err != nil {
		return nil, nil, nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "app")

	args := append([]string{"build"}, goBuildFlags...)
	if b.opts.Recipes {
		args = append(args, traceFlags...)
	}
	args = append(args, "-o", out, ".")
	cmd := s.command(ctx, j.context, args...)
	// The work directory (kept by -work, removed below) is made beside
	// the builder's other temporary files: one left by a go build killed
	// half-way is swept with them, not left in the system's /tmp.
	cmd.Env = mergeEnv(cmd.Env, []string{"GOTMPDIR=" + filepath.Join(b.opts.Dir, "tmp")})
	// What the build prints is read as it comes, and only its last bytes
	// (and, traced, the commands a recipe needs) are kept.
	var raw []byte
	var runErr error
	if b.opts.Recipes {
		tw := newTraceWriter(j.context)
		cmd.Stdout, cmd.Stderr = tw, tw
		runErr = cmd.Run()
		trace = tw.finish()
		if trace.work != "" && filepath.IsAbs(trace.work) {
			if runErr == nil {
				trace.keepConfigs()
			}
			_ = os.RemoveAll(trace.work)
		}
		raw = trace.output
	} else {
		tail := &tailBuffer{max: maxBuildOutput}
		cmd.Stdout, cmd.Stderr = tail, tail
		runErr = cmd.Run()
		raw = tail.bytes()
	}
	if runErr != nil {
		if ctx.Err() != nil {
			runErr = ctx.Err()
		}
		return nil, raw, nil, runErr
	}
	bin, err = os.ReadFile(out)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading the built binary: %w", err)
	}
	return bin, nil, trace, nil
}

// buildGo compiles the service's main package and stores its image.
func (b *Builder) buildGo(ctx context.Context, s *session, j *job, inputs string) (snapshot.Artifact, error) {
	c, err := b.compileGo(ctx, s, j)
	if err != nil {
		return snapshot.Artifact{}, err
	}
	bin := c.bin
	if c.trace != nil {
		b.learn(s, j, c.trace, bin)
	}
	begun := time.Now()
	img, layer, err := goImage(bin, imageMeta{
		service: j.service,
		inputs:  inputs,
		arch:    s.goarch,
		variant: armVariant(s.goarch, s.tc.Env["GOARM"]),
		ports:   j.ports,
		plain:   b.opts.PlainLayers,
		labels:  j.labels,
	})
	if err != nil {
		return snapshot.Artifact{}, fmt.Errorf("service %q: assembling the image: %w", j.service, err)
	}
	assembled := time.Now()
	digest, err := b.storeFresh(s, img, layer, j.service)
	if err != nil {
		return snapshot.Artifact{}, fmt.Errorf("service %q: storing the image: %w", j.service, err)
	}
	b.opts.logger().Debug("go image", "service", j.service, "assemble", assembled.Sub(begun), "store", time.Since(assembled))
	if b.opts.Unpack {
		b.unpackAhead(digest)
	}
	return snapshot.Artifact{
		Service: j.service,
		Digest:  digest,
		Builder: builderGo,
		Inputs:  inputs,
		Size:    layer.size(),
	}, nil
}

// emit delivers p to the Progress callback, one call at a time.
func (b *Builder) emit(p Progress) {
	if b.opts.Progress == nil {
		return
	}
	b.progressMu.Lock()
	defer b.progressMu.Unlock()
	b.opts.Progress(p)
}

// log delivers one line of build output to the Log callback.
func (b *Builder) log(service, line string) {
	if b.opts.Log == nil {
		return
	}
	b.progressMu.Lock()
	defer b.progressMu.Unlock()
	b.opts.Log(service, line)
}

// safeName keeps a service name usable inside a temp file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}

// tail returns the last n non-empty lines of out, which is where the
// compiler's errors are.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
