package build

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	dockerbuild "github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ladderhq/ladder/internal/spec"
)

// fakeEngine answers builds with a canned message stream and saves a
// random image; it records what it was sent.
type fakeEngine struct {
	mu       sync.Mutex
	stream   []map[string]any
	buildErr error
	opts     dockerbuild.ImageBuildOptions
	entries  []string // names in the context tar
	files    map[string]string
	removed  []string
	saved    v1.Image
}

func (f *fakeEngine) ImageBuild(_ context.Context, r io.Reader, o dockerbuild.ImageBuildOptions) (dockerbuild.ImageBuildResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.buildErr != nil {
		return dockerbuild.ImageBuildResponse{}, f.buildErr
	}
	f.opts, f.files = o, map[string]string{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		if hdr.Uid != 0 || hdr.ModTime.Unix() != 0 {
			return dockerbuild.ImageBuildResponse{}, fmt.Errorf("header %+v", hdr)
		}
		b, _ := io.ReadAll(tr)
		f.entries = append(f.entries, hdr.Name)
		f.files[hdr.Name] = string(b)
	}
	pr, pw := io.Pipe()
	go func() {
		enc := json.NewEncoder(pw)
		for _, m := range f.stream {
			enc.Encode(m)
		}
		pw.Close()
	}()
	return dockerbuild.ImageBuildResponse{Body: pr}, nil
}

func (f *fakeEngine) ImageSave(_ context.Context, refs []string, _ ...client.ImageSaveOption) (io.ReadCloser, error) {
	tag, err := name.NewTag(refs[0])
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(tag, f.saved, pw)) }()
	return pr, nil
}

func (f *fakeEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	return image.InspectResponse{}, cerrdefs.ErrNotFound
}

func (f *fakeEngine) ImageRemove(_ context.Context, ref string, _ image.RemoveOptions) ([]image.DeleteResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, ref)
	return nil, nil
}

// engineLikeImage is a random image dressed as the engine makes them:
// build times, the builder's container, a parent image, Docker media types.
func engineLikeImage(t *testing.T) v1.Image {
	img, err := random.Image(64, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	now := v1.Time{Time: time.Now()}
	cf.Created, cf.Container, cf.DockerVersion, cf.Config.Image = now, "c0ffee", "20.10", "sha256:parent"
	cf.Config.Labels = map[string]string{"keep": "me"}
	cf.History = []v1.History{{Created: now, CreatedBy: "COPY a"}, {Created: now, CreatedBy: "ENV x", EmptyLayer: true}, {Created: now, CreatedBy: "COPY b"}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func fakeStack(t *testing.T, bc types.BuildConfig) *fakeFixture {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM scratch AS final\nCOPY . /\n")
	writeFile(t, filepath.Join(dir, ".dockerignore"), "*.log\nsecret/\n!secret/keep.txt\nDockerfile\n")
	for _, f := range []string{"a.txt", "b.log", "secret/x", "secret/keep.txt", "sub/c.txt"} {
		writeFile(t, filepath.Join(dir, f), f+"\n")
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	age(t, dir)
	bc.Context = "."
	return &fakeFixture{dir: dir, stack: dockerStack(dir, nil), bc: bc}
}

// fakeFixture is a context with a .dockerignore that has an exception,
// and a stack to which services built from it are added.
type fakeFixture struct {
	dir   string
	stack *spec.Stack
	bc    types.BuildConfig
}

func (s *fakeFixture) withService(name string) *spec.Stack {
	bc := s.bc
	s.stack.Compose.Services[name] = types.ServiceConfig{Name: name, WorkloadSpec: types.WorkloadSpec{Build: &bc}}
	return s.stack
}

func TestDockerfileBuildWithFakeEngine(t *testing.T) {
	arg := "v1"
	fx := fakeStack(t, types.BuildConfig{Dockerfile: "Dockerfile", Target: "final", Args: types.MappingWithEquals{"A": &arg, "B": nil}})
	eng := &fakeEngine{saved: engineLikeImage(t), stream: []map[string]any{
		{"stream": "Step 1/2 : FROM scratch\n"}, {"stream": " ---> \nStep 2/2 : COPY"}, {"stream": " . /\n ---> 0123456789ab\n"},
		{"aux": map[string]string{"ID": "sha256:0123"}}, {"stream": "Successfully built 0123456789ab\n"},
	}}
	h := dockerHarness(t, eng, "", nil)
	var lines []string
	h.opts.Log = func(service, line string) { lines = append(lines, service+": "+line) }
	arts, _ := h.build(t, fx.withService("svc"))
	a := arts["svc"]

	if want := []string{".dockerignore", "Dockerfile", "a.txt", "link", "secret/keep.txt", "sub/", "sub/c.txt"}; !reflect.DeepEqual(eng.entries, want) {
		t.Fatalf("context tar %v, want %v", eng.entries, want)
	}
	o := eng.opts
	if o.Version != dockerbuild.BuilderV1 || o.PullParent || !o.NoCache || !o.ForceRemove || o.Dockerfile != "Dockerfile" || o.Target != "final" ||
		*o.BuildArgs["A"] != "v1" || o.BuildArgs["B"] != nil || len(o.Tags) != 1 || !strings.HasPrefix(o.Tags[0], "ladder-build-svc:"+a.Inputs[:12]+"-") {
		t.Fatalf("build options %+v", o)
	}
	if want := []string{"svc: Step 1/2 : FROM scratch", "svc:  ---> ", "svc: Step 2/2 : COPY . /", "svc:  ---> 0123456789ab", "svc: Successfully built 0123456789ab"}; !reflect.DeepEqual(lines, want) {
		t.Fatalf("log lines %q", lines)
	}
	if !reflect.DeepEqual(eng.removed, o.Tags) {
		t.Fatalf("removed %v, want the temporary tag %v", eng.removed, o.Tags)
	}
	img, err := h.Image(a.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if !cf.Created.Time.Equal(epoch) || cf.Container != "" || cf.DockerVersion != "" || cf.Config.Image != "" || len(cf.History) != 3 || !cf.History[1].EmptyLayer ||
		!reflect.DeepEqual(cf.Config.Labels, map[string]string{"keep": "me", LabelTitle: "svc", LabelInputs: a.Inputs}) {
		t.Fatalf("config %+v", cf)
	}
	orig, _ := eng.saved.ConfigFile()
	if !reflect.DeepEqual(cf.RootFS, orig.RootFS) {
		t.Fatalf("diff IDs changed: %v -> %v", orig.RootFS, cf.RootFS)
	}
	// Normalising is a function of the engine's image: again, same digest.
	again, _, err := normaliseImage(eng.saved, t.TempDir(), "svc", a.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := again.Digest(); d.String() != a.Digest {
		t.Fatalf("normalised twice: %s and %s", a.Digest, d)
	}
}

func TestDockerInputs(t *testing.T) {
	fx := fakeStack(t, types.BuildConfig{Dockerfile: "Dockerfile"})
	h := dockerHarness(t, &fakeEngine{}, "", nil)
	inputs := func(bc types.BuildConfig) string {
		t.Helper()
		bc.Context = fx.dir
		s, err := h.openSession(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		j, err := planService("svc", types.ServiceConfig{WorkloadSpec: types.WorkloadSpec{Build: &bc}}, fx.dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		in, err := s.inputs(context.Background(), j, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.cache.save(); err != nil {
			t.Fatal(err)
		}
		return in
	}
	base := inputs(fx.bc)
	if inputs(fx.bc) != base {
		t.Fatal("inputs not stable")
	}
	// The context's hash is in the stat cache, trusted while no file or
	// directory it was made from changes.
	c := loadStatCache(filepath.Join(h.dir, "cache", "inputs.json"))
	if _, miss := c.lookup("dockerfile Dockerfile in "+fx.dir, DockerfileBuilderVersion); miss != cacheHit {
		t.Fatalf("no usable stat cache entry: %+v", c.data.Contexts)
	}
	v := "x"
	seen := map[string]string{base: "base"}
	for what, bc := range map[string]types.BuildConfig{
		"target": {Dockerfile: "Dockerfile", Target: "final"},
		"arg":    {Dockerfile: "Dockerfile", Args: types.MappingWithEquals{"A": &v}},
		"unset":  {Dockerfile: "Dockerfile", Args: types.MappingWithEquals{"A": nil}},
		"inline": {DockerfileInline: "FROM scratch\n"},
	} {
		in := inputs(bc)
		if prev, ok := seen[in]; ok {
			t.Fatalf("%s gives the inputs of %s", what, prev)
		}
		seen[in] = what
	}
	edit := func(what, file, content string, changes bool) {
		t.Helper()
		writeFile(t, filepath.Join(fx.dir, file), content)
		age(t, fx.dir)
		if in := inputs(fx.bc); (in != base) != changes {
			t.Fatalf("%s: inputs changed %v, want %v", what, in != base, changes)
		}
	}
	edit("an ignored file", "c.log", "x", false)
	edit("an excluded directory", "secret/y", "y", false)
	edit("an exception", "secret/keep.txt", "new", true)
	base = inputs(fx.bc)
	edit("the Dockerfile", "Dockerfile", "FROM scratch\n", true)
	base = inputs(fx.bc)
	if err := os.Chmod(filepath.Join(fx.dir, "a.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	edit("a mode", "sub/c.txt", "sub/c.txt\n", true)
}

func TestInlineDockerfileIsAddedAndIgnored(t *testing.T) {
	fx := fakeStack(t, types.BuildConfig{DockerfileInline: "FROM scratch\n"})
	eng := &fakeEngine{saved: engineLikeImage(t), stream: []map[string]any{{"stream": "ok\n"}}}
	h := dockerHarness(t, eng, "", nil)
	h.build(t, fx.withService("svc"))
	df := eng.opts.Dockerfile
	if !strings.HasPrefix(df, ".dockerfile.ladder-") || eng.files[df] != "FROM scratch\n" || !strings.HasSuffix(eng.files[".dockerignore"], "\n"+df+"\n") {
		t.Fatalf("Dockerfile %q, files %q", df, eng.files)
	}
}

func TestDockerBuildErrors(t *testing.T) {
	// An engine that is not there: the real client, a socket that is not.
	nowhere := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	t.Setenv("DOCKER_HOST", nowhere)
	cli, err := NewDockerClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	fx := fakeStack(t, types.BuildConfig{Dockerfile: "Dockerfile"})
	_, _, err = dockerHarness(t, cli, "", nil).Build(context.Background(), fx.withService("svc"))
	if err == nil || !strings.Contains(err.Error(), `service "svc": Docker engine not reachable (DOCKER_HOST=`+nowhere+")") {
		t.Fatalf("Build = %v", err)
	}
	if _, err := LoadImage(context.Background(), cli, engineLikeImage(t), "a:b"); err == nil || !strings.Contains(err.Error(), "not reachable (DOCKER_HOST="+nowhere) {
		t.Fatalf("LoadImage = %v", err)
	}
	// The engine's own refusal is passed on as it is.
	eng := &fakeEngine{buildErr: errors.New("dockerfile parse error line 1: unknown instruction: FORM")}
	_, _, err = dockerHarness(t, eng, "", nil).Build(context.Background(), fx.withService("svc"))
	if err == nil || !strings.Contains(err.Error(), `service "svc": docker build failed: dockerfile parse error`) {
		t.Fatalf("Build = %v", err)
	}

	// A long failing step: its line, then its last lines.
	stream := []map[string]any{{"stream": "Step 1/2 : FROM scratch\n ---> \n"}, {"stream": "Step 2/2 : RUN x\n"}}
	for i := range 30 {
		stream = append(stream, map[string]any{"stream": fmt.Sprintf("out %d\n", i)})
	}
	stream = append(stream, map[string]any{"error": "boom", "errorDetail": map[string]string{"message": "boom detail"}})
	eng = &fakeEngine{stream: stream}
	_, _, err = dockerHarness(t, eng, "", nil).Build(context.Background(), fx.withService("svc"))
	if err == nil {
		t.Fatal("Build succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != `service "svc": docker build failed: boom detail` || lines[1] != "Step 2/2 : RUN x" || lines[2] != "..." ||
		lines[len(lines)-1] != "out 29" || len(lines) > tailLines+3 || strings.Contains(err.Error(), "out 5\n") {
		t.Fatalf("error:\n%s", err)
	}
}

func TestStageImages(t *testing.T) {
	other := "other:2"
	for _, c := range []struct {
		dockerfile string
		args       types.MappingWithEquals
		target     string
		want       []string // BuildKit: the target's stages only
		classic    []string // the classic builder: every stage up to the target
	}{
		{"FROM scratch\nCOPY a /a", nil, "", nil, nil},
		{"# escape=`\nFROM --platform=linux/amd64 `\n  base:1 AS build\nFROM build\nCOPY --from=build /a /a\nCOPY --from=0 /a /b\nCOPY --from=tool:3 /t /t", nil, "",
			[]string{"base:1", "tool:3"}, []string{"base:1", "tool:3"}},
		{"ARG B=base:1\nFROM $B\nFROM ${C:-fallback:1}", nil, "", []string{"fallback:1"}, []string{"base:1", "fallback:1"}},
		{"ARG B=base:1\n# comment\nFROM ${B} as one\nARG B=ignored\nFROM one", nil, "", []string{"base:1"}, []string{"base:1"}},
		{"ARG B=base:1\nFROM ${B}", types.MappingWithEquals{"B": &other}, "", []string{"other:2"}, []string{"other:2"}},
		{"ARG B=base:1\nFROM ${B}", types.MappingWithEquals{"B": nil}, "", []string{"base:1"}, []string{"base:1"}},
		// An unused stage's image is not needed by BuildKit; a stage after
		// the target is needed by neither.
		{"FROM unused:1 AS test\nFROM golang:1 AS build\nRUN --mount=type=cache,target=/c --mount=type=bind,from=tools:1,target=/t true\n" +
			"FROM scratch AS final\nCOPY --from=build /a /a\nFROM later:1", nil, "final",
			[]string{"golang:1", "tools:1"}, []string{"unused:1", "golang:1", "tools:1"}},
		{"FROM --platform=$BUILDPLATFORM golang:1 AS build\nFROM base-${TARGETARCH}:1\nCOPY --from=build /a /a", nil, "",
			[]string{"base-" + runtime.GOARCH + ":1", "golang:1"}, []string{"golang:1", "base-" + runtime.GOARCH + ":1"}},
	} {
		g, err := parseStages([]byte(c.dockerfile), c.args)
		if err != nil {
			t.Fatalf("%q: %v", c.dockerfile, err)
		}
		ti := g.targetIndex(c.target)
		refs := func(all bool) []string {
			var out []string
			for _, u := range g.images(ti, all) {
				out = append(out, u.ref)
			}
			return out
		}
		if got := refs(false); !reflect.DeepEqual(got, c.want) {
			t.Errorf("images(%q) = %q, want %q", c.dockerfile, got, c.want)
		}
		if got := refs(true); !reflect.DeepEqual(got, c.classic) {
			t.Errorf("images(%q, classic) = %q, want %q", c.dockerfile, got, c.classic)
		}
	}
	g, _ := parseStages([]byte("FROM scratch AS a\nFROM scratch\n"), nil)
	if g.targetIndex("missing") != -1 || g.targetIndex("A") != 0 || g.targetIndex("") != 1 || g.stageNames() != "a, 1" {
		t.Fatalf("targets: %d %d %d %q", g.targetIndex("missing"), g.targetIndex("A"), g.targetIndex(""), g.stageNames())
	}
}

func TestBuiltinSyntax(t *testing.T) {
	for df, want := range map[string]bool{
		"FROM scratch\n": true,
		"# syntax=docker/dockerfile:1\nFROM scratch\n":                          true,
		"# syntax=docker.io/docker/dockerfile:1.7\nFROM scratch\n":              true,
		"# syntax=docker/dockerfile\nFROM scratch\n":                            true,
		"# syntax=docker/dockerfile:1.7-labs\nFROM scratch\n":                   false,
		"# syntax=example.com/my/frontend:2\nFROM scratch\n":                    false,
		"# syntax=docker/dockerfile:1@sha256:" + strings.Repeat("a", 64) + "\n": false,
	} {
		if got := builtinSyntax([]byte(df)); got != want {
			t.Errorf("builtinSyntax(%q) = %v, want %v", df, got, want)
		}
	}
}

func TestImageRef(t *testing.T) {
	d := "sha256:3f2a9c1b0d4e" + strings.Repeat("0", 52)
	for _, c := range [][3]string{
		{"trading", "users", "trading-users:ladder-3f2a9c1b0d4e"},
		{"My Stack", "Web_API", "my-stack-web_api:ladder-3f2a9c1b0d4e"},
		{"a..b", "-x-", "a-b-x:ladder-3f2a9c1b0d4e"},
		{"", "é", "service:ladder-3f2a9c1b0d4e"},
	} {
		got := ImageRef(c[0], c[1], d)
		if got != c[2] {
			t.Errorf("ImageRef(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
		if r, err := reference.ParseNormalizedNamed(got); err != nil || reference.FamiliarString(r) != got {
			t.Errorf("%q is not a valid reference: %v", got, err)
		}
	}
}

// fakeLoader is a DockerLoader with canned answers.
type fakeLoader struct {
	inspectErr error
	loadBody   string
}

func (f *fakeLoader) ImageInspect(context.Context, string, ...client.ImageInspectOption) (image.InspectResponse, error) {
	return image.InspectResponse{}, f.inspectErr
}
func (f *fakeLoader) ImageTag(context.Context, string, string) error { return nil }
func (f *fakeLoader) ImageLoad(_ context.Context, r io.Reader, _ ...client.ImageLoadOption) (image.LoadResponse, error) {
	io.Copy(io.Discard, r)
	return image.LoadResponse{Body: io.NopCloser(strings.NewReader(f.loadBody)), JSON: true}, nil
}

func TestLoadImageErrors(t *testing.T) {
	img := engineLikeImage(t)
	ctx := context.Background()
	if _, err := LoadImage(ctx, nil, img, "a:b"); err == nil || !strings.Contains(err.Error(), "DOCKER_HOST") {
		t.Fatalf("nil docker: %v", err)
	}
	if _, err := LoadImage(ctx, &fakeLoader{inspectErr: errors.New("connection refused")}, img, "a:b"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("unreachable: %v", err)
	}
	l := &fakeLoader{inspectErr: cerrdefs.ErrNotFound, loadBody: `{"errorDetail":{"message":"no space left"},"error":"no space left"}`}
	if _, err := LoadImage(ctx, l, img, "a:b"); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("failed load: %v", err)
	}
	if _, err := LoadImage(ctx, l, img, "Not A Ref"); err == nil {
		t.Fatal("invalid reference accepted")
	}
}

// DialHijack answers as an engine without BuildKit does: the fake stands
// for the classic builder.
func (f *fakeEngine) DialHijack(context.Context, string, string, map[string][]string) (net.Conn, error) {
	return nil, errors.New("unable to upgrade to h2c, received 404")
}
