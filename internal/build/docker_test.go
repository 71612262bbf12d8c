package build

import (
	"archive/tar"
	"context"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	gtypes "github.com/google/go-containerregistry/pkg/v1/types"
)

// The classic builder (the fallback where the engine has no BuildKit).
func TestDockerfileBuildCachesAndRuns(t *testing.T) {
	cli := engine(t)
	eng := &countingEngine{DockerEngine: cli}
	src := dockerFixture(t)
	stack := dockerStack(src, map[string]string{"hello": "Dockerfile"})
	h := classicHarness(t, eng, "", nil)
	var logged []string
	h.opts.Log = func(service, line string) { logged = append(logged, service+"| "+line) }

	arts, rep := h.build(t, stack)
	checkReport(t, rep, []string{"hello"}, nil)
	a := arts["hello"]
	if eng.builds.Load() != 1 || a.Builder != "dockerfile" || a.Size <= 0 || len(a.Inputs) != 64 {
		t.Fatalf("engine builds %d, artifact %+v", eng.builds.Load(), a)
	}
	if h.envs.Load()+h.lists.Load()+h.builds.Load() != 0 {
		t.Fatal("a Dockerfile-only stack ran the go command")
	}
	if !strings.Contains(strings.Join(logged, "\n"), "hello| Step 2/4 : COPY app /app") {
		t.Fatalf("build output not streamed to Log:\n%s", strings.Join(logged, "\n"))
	}
	checkDockerImage(t, h, a.Digest, "hello", a.Inputs)
	images, err := cli.ImageList(context.Background(), image.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range images {
		for _, tag := range im.RepoTags {
			if strings.HasPrefix(tag, "ladder-build-hello:"+a.Inputs[:12]) {
				t.Fatalf("temporary tag %s left in the engine", tag)
			}
		}
	}

	// Unchanged: cached by a fresh Builder, the engine not asked.
	step := func(what string, edit func(), wantBuilt bool) {
		t.Helper()
		edit()
		eng.builds.Store(0)
		h2 := classicHarness(t, eng, h.dir, h.store)
		got, rep := h2.build(t, stack)
		if wantBuilt {
			checkReport(t, rep, []string{"hello"}, nil)
			if got["hello"].Digest == a.Digest || got["hello"].Inputs == a.Inputs {
				t.Fatalf("%s: rebuilt to the same artifact %+v", what, got["hello"])
			}
		} else {
			checkReport(t, rep, nil, []string{"hello"})
			if !reflect.DeepEqual(got["hello"], a) {
				t.Fatalf("%s: cached artifact %+v, want %+v", what, got["hello"], a)
			}
		}
		if n := eng.builds.Load(); n != map[bool]int32{true: 1, false: 0}[wantBuilt] {
			t.Fatalf("%s: %d engine builds", what, n)
		}
		a = got["hello"]
	}
	step("nothing changed", func() {}, false)
	step("ignored files changed", func() {
		writeFile(t, filepath.Join(src, "notes", "todo.md"), "more notes\n")
		writeFile(t, filepath.Join(src, "build.log"), "a log\n")
		writeFile(t, filepath.Join(src, "src", "extra.go"), "package main\n")
	}, false)
	step("a context file changed", func() {
		writeFile(t, filepath.Join(src, "config.txt"), "greeting=bonjour\n")
	}, true)

	// The same context elsewhere, built afresh, gives the same image:
	// FROM scratch + COPY is reproducible because ladder sends files with
	// fixed times and owners.
	other := dockerFixture(t)
	writeFile(t, filepath.Join(other, "config.txt"), "greeting=bonjour\n")
	again, _ := classicHarness(t, eng, "", nil).build(t, dockerStack(other, map[string]string{"hello": "Dockerfile"}))
	if !reflect.DeepEqual(again["hello"], a) {
		t.Fatalf("same context in another directory: %+v, want %+v", again["hello"], a)
	}

	// The image runs in the engine.
	img, err := h.Image(a.Digest)
	if err != nil {
		t.Fatal(err)
	}
	ref := ImageRef(uniqueName("ladder-test-"), "hello", a.Digest)
	removeImage(t, cli, ref)
	id, err := LoadImage(context.Background(), cli, img, ref)
	if err != nil {
		t.Fatal(err)
	}
	if out := runImage(t, cli, ref, id); out != "dockerapp says greeting=bonjour\n" {
		t.Fatalf("container output %q", out)
	}
}

// checkDockerImage checks the normalised image of a Dockerfile build.
func checkDockerImage(t *testing.T, h *harness, digest, service, inputs string) {
	t.Helper()
	img, err := h.Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	if m.MediaType != gtypes.OCIManifestSchema1 || m.Config.MediaType != gtypes.OCIConfigJSON || len(m.Layers) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	for _, l := range m.Layers {
		if l.MediaType != gtypes.OCILayer {
			t.Fatalf("layer media type %s", l.MediaType)
		}
	}
	cf, _ := img.ConfigFile()
	if !cf.Created.Time.Equal(epoch) || cf.Container != "" || cf.DockerVersion != "" || cf.Config.Image != "" ||
		cf.Config.Labels[LabelTitle] != service || cf.Config.Labels[LabelInputs] != inputs || len(cf.History) != 3 {
		t.Fatalf("config %+v", cf)
	}
	for _, hist := range cf.History {
		if !hist.Created.Time.Equal(epoch) {
			t.Fatalf("history %+v", hist)
		}
	}
	layers, _ := img.Layers()
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	hdr, err := tar.NewReader(rc).Next()
	if err != nil || hdr.Name != "app" || hdr.ModTime.Unix() != 0 || hdr.Mode&0o777 != 0o755 {
		t.Fatalf("first layer: %+v, %v", hdr, err)
	}
}

func TestDockerfileBuildFailures(t *testing.T) {
	cli := engine(t)
	eng := &countingEngine{DockerEngine: cli}
	src := dockerFixture(t)
	writeFile(t, filepath.Join(src, "copy.Dockerfile"), "FROM scratch\nCOPY missing.txt /missing.txt\n")
	writeFile(t, filepath.Join(src, "run.Dockerfile"), "FROM scratch\nCOPY app /app\nRUN [\"/app\", \"fail\"]\n")
	base := uniqueName("ladder-test-absent-")
	writeFile(t, filepath.Join(src, "base.Dockerfile"), "ARG BASE="+base+"\nFROM ${BASE}:1\nCOPY app /app\n")
	writeFile(t, filepath.Join(src, "syntax.Dockerfile"), "FORM scratch\n")
	writeFile(t, filepath.Join(src, "multi.Dockerfile"), "FROM scratch AS first\nCOPY config.txt /c\n"+
		"FROM scratch\nCOPY --from=first /c /config.txt\nCOPY app /app\n")
	stack := dockerStack(src, map[string]string{"copy": "copy.Dockerfile", "run": "run.Dockerfile", "base": "base.Dockerfile",
		"syntax": "syntax.Dockerfile", "ok": "multi.Dockerfile"})
	h := classicHarness(t, eng, "", nil)
	var mu sync.Mutex
	var ids []string
	h.opts.Log = func(service, line string) {
		mu.Lock()
		defer mu.Unlock()
		if id, ok := strings.CutPrefix(line, " ---> "); ok && len(id) == 12 {
			ids = append(ids, id)
		}
	}
	arts, rep, err := h.Build(context.Background(), stack)
	if err == nil {
		t.Fatal("Build succeeded")
	}
	msg := err.Error()
	for _, want := range []string{
		`service "copy": docker build failed: COPY failed:`, "missing.txt", "Step 2/2 : COPY missing.txt /missing.txt",
		`service "run": docker build failed: The command '/app fail' returned a non-zero code: 3`, "Step 3/3 : RUN", "failing on purpose",
		`service "base": base.Dockerfile needs image "` + base + `:1" (stage 0, line 2), which the Docker engine does not have; ` +
			"ladder never pulls base images: run `docker pull " + base + ":1`",
		`service "syntax": docker build failed: `, "unknown instruction: FORM",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if _, ok := arts["ok"]; !ok || len(rep.Built) != 1 {
		t.Fatalf("the good service was not built alongside: %v %+v", arts, rep)
	}
	if n := eng.builds.Load(); n != 4 {
		t.Fatalf("%d engine builds, want 4 (the missing base is caught before)", n)
	}
	// The images of the steps are gone: the failed RUN's (the COPY step
	// before it) and those of the multi-stage build's first stage.
	if len(ids) < 4 {
		t.Fatalf("intermediate images seen in the build output: %v", ids)
	}
	for _, id := range ids {
		if _, err := cli.ImageInspect(context.Background(), id); err == nil {
			removeImage(t, cli, id)
			t.Errorf("intermediate image %s left in the engine", id)
		}
	}
}

// countingLoader counts loads and tags.
type countingLoader struct {
	DockerLoader
	loads, tags atomic.Int32
}

func (c *countingLoader) ImageLoad(ctx context.Context, r io.Reader, o ...client.ImageLoadOption) (image.LoadResponse, error) {
	c.loads.Add(1)
	return c.DockerLoader.ImageLoad(ctx, r, o...)
}

func (c *countingLoader) ImageTag(ctx context.Context, src, dst string) error {
	c.tags.Add(1)
	return c.DockerLoader.ImageTag(ctx, src, dst)
}

func TestLoadGoImage(t *testing.T) {
	cli := engine(t)
	h := newHarness(t, "", nil)
	arts, _ := h.build(t, stackFor(copyFixture(t), "api"))
	img, err := h.Image(arts["api"].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigName()
	stack := uniqueName("ladder-test-")
	ref := ImageRef(stack, "api", arts["api"].Digest)
	removeImage(t, cli, ref)
	l := &countingLoader{DockerLoader: cli}
	id, err := LoadImage(context.Background(), l, img, ref)
	if err != nil {
		t.Fatal(err)
	}
	if id != cfg.String() || l.loads.Load() != 1 {
		t.Fatalf("LoadImage = %s after %d loads; want %s after 1", id, l.loads.Load(), cfg)
	}
	info, err := cli.ImageInspect(context.Background(), ref)
	if err != nil || info.ID != id {
		t.Fatalf("engine has %s as %q, %v", ref, info.ID, err)
	}
	// Again, and under a second name: tags only.
	ref2 := ImageRef(stack+"-b", "api", arts["api"].Digest)
	removeImage(t, cli, ref2)
	for _, r := range []string{ref, ref2} {
		if id2, err := LoadImage(context.Background(), l, img, r); err != nil || id2 != id {
			t.Fatalf("LoadImage(%s) again = %s, %v", r, id2, err)
		}
	}
	if l.loads.Load() != 1 || l.tags.Load() != 2 {
		t.Fatalf("%d loads and %d tags, want 1 and 2", l.loads.Load(), l.tags.Load())
	}
	if info, err := cli.ImageInspect(context.Background(), ref2); err != nil || info.ID != id {
		t.Fatalf("engine has %s as %q, %v", ref2, info.ID, err)
	}

	// A loaded image serves as a base image; it is part of the inputs,
	// and survives the removal of the build's temporary tag.
	src := dockerFixture(t)
	writeFile(t, filepath.Join(src, "Dockerfile"), "FROM "+ref+"\nCOPY config.txt /config.txt\n")
	stk := dockerStack(src, map[string]string{"onbase": "Dockerfile"})
	hd := dockerHarness(t, cli, "", nil)
	built, _ := hd.build(t, stk)
	on, err := hd.Image(built["onbase"].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if layers, _ := on.Layers(); len(layers) != 2 {
		t.Fatalf("image on the Go base has %d layers, want 2", len(layers))
	}
	if _, err := cli.ImageInspect(context.Background(), ref); err != nil {
		t.Fatalf("the base image went with the build's tag: %v", err)
	}
	// The same name now holds another image: the inputs change.
	if _, err := LoadImage(context.Background(), cli, on, ref); err != nil {
		t.Fatal(err)
	}
	rebuilt, rep := hd.build(t, stk)
	checkReport(t, rep, []string{"onbase"}, nil)
	if rebuilt["onbase"].Inputs == built["onbase"].Inputs {
		t.Fatal("replacing the base image kept the inputs")
	}
}
