package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	gtypes "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

func checkReport(t *testing.T, rep *Report, built, cached []string) {
	t.Helper()
	if !reflect.DeepEqual(rep.Built, built) || !reflect.DeepEqual(rep.Cached, cached) {
		t.Fatalf("report: built %v cached %v, want built %v cached %v", rep.Built, rep.Cached, built, cached)
	}
}

func TestBuildCachesAndRebuildsOnlyWhatChanged(t *testing.T) {
	src := copyFixture(t)
	stack := stackFor(src, "api", "worker")
	h := newHarness(t, "", nil)
	// Every rebuild is a go build here, counted: a recipe proven in the
	// background meanwhile would replay some of them instead (the recipe
	// tests count those).
	h.opts.Recipes = false

	arts, rep := h.build(t, stack)
	checkReport(t, rep, []string{"api", "worker"}, nil)
	if n := h.builds.Load(); n != 2 {
		t.Fatalf("first build ran go build %d times, want 2", n)
	}
	if _, ok := arts["db"]; ok || len(arts) != 2 {
		t.Fatalf("artifacts %v: want api and worker only (db has no build)", arts)
	}
	for name, a := range arts {
		if a.Service != name || !snapshot.ValidDigest(a.Digest) || a.Builder != "go" || a.Size <= 0 || len(a.Inputs) != 64 {
			t.Fatalf("artifact %s: %+v", name, a)
		}
		if got, err := h.store.LookupArtifact(context.Background(), name, a.Inputs); err != nil || !reflect.DeepEqual(got, a) {
			t.Fatalf("store has %+v, %v; want %+v", got, err, a)
		}
	}
	first := arts

	// Nothing changed: all cached, from a fresh Builder (the stat cache is
	// on disk), without go build and without even go list.
	h2 := newHarness(t, h.dir, h.store)
	arts, rep = h2.build(t, stack)
	checkReport(t, rep, nil, []string{"api", "worker"})
	if b, l := h2.builds.Load(), h2.lists.Load(); b != 0 || l != 0 {
		t.Fatalf("no-op build ran go build %d and go list %d times, want 0 and 0", b, l)
	}
	if !reflect.DeepEqual(arts, first) {
		t.Fatalf("cached artifacts %v differ from built %v", arts, first)
	}
	states := map[string]bool{}
	for _, p := range h2.events {
		states[p.Service+":"+p.State] = true
	}
	if !states["api:checking"] || !states["api:cached"] || states["api:building"] {
		t.Fatalf("progress of a cached build: %+v", h2.events)
	}

	step := func(what string, edit func(), built, cached []string) map[string]snapshot.Artifact {
		t.Helper()
		prev := arts
		edit()
		arts, rep = h.build(t, stack)
		checkReport(t, rep, built, cached)
		if n := int(h.builds.Load()); n != len(built) {
			t.Fatalf("%s: go build ran %d times, want %d", what, n, len(built))
		}
		if left := tmpLeft(h); len(left) > 0 {
			t.Fatalf("%s: builds left %d entries in the builder's tmp", what, len(left))
		}
		for _, name := range built {
			if arts[name].Inputs == prev[name].Inputs || arts[name].Digest == prev[name].Digest {
				t.Fatalf("%s: %s kept inputs/digest %s/%s", what, name, prev[name].Inputs, prev[name].Digest)
			}
		}
		for _, name := range cached {
			if !reflect.DeepEqual(arts[name], prev[name]) {
				t.Fatalf("%s: cached %s changed: %+v -> %+v", what, name, prev[name], arts[name])
			}
		}
		return arts
	}

	// A new file in a package directory, found by the directory's mtime.
	step("add a file to worker", func() {
		writeFile(t, filepath.Join(src, "services/worker/extra.go"), "package main\n\nvar extra = 1\n")
	}, []string{"worker"}, []string{"api"})

	step("edit worker", func() {
		writeFile(t, filepath.Join(src, "services/worker/main.go"),
			strings.Replace(readFile(t, filepath.Join(src, "services/worker/main.go")), `"worker"`, `"worker v2"`, 1))
	}, []string{"worker"}, []string{"api"})

	step("edit the shared package", func() {
		writeFile(t, filepath.Join(src, "internal/greet/greet.go"),
			strings.Replace(readFile(t, filepath.Join(src, "internal/greet/greet.go")), `"hello, "`, `"hi, "`, 1))
	}, []string{"api", "worker"}, nil)

	step("edit an embedded file", func() {
		writeFile(t, filepath.Join(src, "services/api/static/banner.txt"), "shop api v2\n")
	}, []string{"api"}, []string{"worker"})

	// Changes outside any build input: a test file and a new, unrelated
	// directory make the stat cache miss, but the inputs are the same.
	step("add a test file", func() {
		writeFile(t, filepath.Join(src, "services/api/main_test.go"), "package main\n")
	}, nil, []string{"api", "worker"})

	// The image going missing from the layout forces a rebuild, to the same
	// digest (the build is reproducible).
	before := arts
	if err := os.Remove(filepath.Join(h.dir, "index.json")); err != nil {
		t.Fatal(err)
	}
	arts, rep = h.build(t, stack)
	checkReport(t, rep, []string{"api", "worker"}, nil)
	if !reflect.DeepEqual(arts, before) {
		t.Fatalf("rebuilt artifacts %v differ from %v", arts, before)
	}

	// So does a blob of one image going missing: only that one is rebuilt.
	img, err := h.Image(arts["api"].Digest)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	if err := os.Remove(h.blobPath(ld)); err != nil {
		t.Fatal(err)
	}
	arts, rep = h.build(t, stack)
	checkReport(t, rep, []string{"api"}, []string{"worker"})
	if !reflect.DeepEqual(arts, before) {
		t.Fatalf("rebuilt artifacts %v differ from %v", arts, before)
	}
	if _, _, err := h.Rootfs(context.Background(), arts["api"].Digest); err != nil {
		t.Fatalf("Rootfs after repair: %v", err)
	}
}

func readFile(tb testing.TB, p string) string {
	tb.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestReproducibleAcrossDirectories(t *testing.T) {
	var digests [2]map[string]snapshot.Artifact
	for i := range digests {
		h := newHarness(t, "", nil)
		digests[i], _ = h.build(t, stackFor(copyFixture(t), "api", "worker"))
	}
	if !reflect.DeepEqual(digests[0], digests[1]) {
		t.Fatalf("same source in two directories gave different artifacts:\n%v\n%v", digests[0], digests[1])
	}
}

func TestImageContents(t *testing.T) {
	h := newHarness(t, "", nil)
	arts, _ := h.build(t, stackFor(copyFixture(t), "api"))
	a := arts["api"]
	img, err := h.Image(a.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d.String() != a.Digest {
		t.Fatalf("image digest %s, artifact %s", d, a.Digest)
	}
	// The builder answers from the image it keeps in memory; a builder of
	// its own reads the store on disk, and both give the same image.
	if _, held := h.memo.image(a.Digest); !held {
		t.Fatalf("the builder does not hold the image it has just built")
	}
	disk, err := New(Options{Store: h.store, Dir: h.dir}).Image(a.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(layerFacts(t, img), layerFacts(t, disk)) {
		t.Fatalf("the image held in memory and the stored one differ:\n%v\n%v", layerFacts(t, img), layerFacts(t, disk))
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != gtypes.OCIManifestSchema1 || m.Config.MediaType != gtypes.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != gtypes.OCILayer {
		t.Fatalf("manifest media types: %+v", m)
	}
	if m.Layers[0].Size != a.Size {
		t.Fatalf("artifact size %d, layer size %d", a.Size, m.Layers[0].Size)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture == "" || !cf.Created.Time.Equal(epoch) ||
		!reflect.DeepEqual(c.Entrypoint, []string{"/app"}) || !reflect.DeepEqual(c.Env, []string{"PATH=/"}) || c.WorkingDir != "/" ||
		!reflect.DeepEqual(c.ExposedPorts, map[string]struct{}{"8080/tcp": {}}) ||
		c.Labels[LabelTitle] != "api" || c.Labels[LabelInputs] != a.Inputs {
		t.Fatalf("config: %+v", cf)
	}

	// The layer: exactly /app, 0755, root, epoch, no owner names.
	layers, _ := img.Layers()
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Name != "app" || hdr.Mode != 0o755 || hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" || hdr.ModTime.Unix() != 0 || hdr.Typeflag != tar.TypeReg {
		t.Fatalf("layer header %+v", hdr)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Fatalf("layer has more than /app: %v", err)
	}

	// Listed once in index.json, under service@digest, even when stored again.
	if _, err := h.storeImage(nil, img, "api"); err != nil {
		t.Fatal(err)
	}
	idx, err := h.readIndex()
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Annotations[AnnotationRefName] != "api@"+a.Digest {
		t.Fatalf("index.json manifests: %+v", idx.Manifests)
	}
}

// With PlainLayers (the inner loop) a Go image's layer is the tar itself:
// its digest is its diff ID, its size the tar's, and everything that
// reads the image (a builder reading the store, unpacking, running) reads
// it as it reads a gzipped one. The inputs differ from a compressed
// build's, so neither is ever taken for the other, and the plain image is
// as reproducible.
func TestPlainLayers(t *testing.T) {
	src := copyFixture(t)
	gz := newHarness(t, "", nil)
	gzArts, _ := gz.build(t, stackFor(src, "api"))

	var plain [2]snapshot.Artifact
	var h *harness
	for i := range plain {
		h = newHarness(t, "", nil)
		h.opts.PlainLayers = true
		arts, _ := h.build(t, stackFor(src, "api"))
		plain[i] = arts["api"]
	}
	a := plain[1]
	if !reflect.DeepEqual(plain[0], plain[1]) {
		t.Fatalf("two plain builds of the same source differ:\n%+v\n%+v", plain[0], plain[1])
	}
	if a.Inputs == gzArts["api"].Inputs || a.Digest == gzArts["api"].Digest {
		t.Fatalf("plain and gzipped builds share inputs %s or digest %s", a.Inputs, a.Digest)
	}
	disk, err := New(Options{Store: h.store, Dir: h.dir}).Image(a.Digest)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := h.Image(a.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(layerFacts(t, mem), layerFacts(t, disk)) {
		t.Fatalf("the image held in memory and the stored one differ:\n%v\n%v", layerFacts(t, mem), layerFacts(t, disk))
	}
	m, err := disk.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != gtypes.OCIUncompressedLayer || m.Layers[0].Size != a.Size {
		t.Fatalf("manifest layers %+v, artifact size %d", m.Layers, a.Size)
	}
	layers, _ := disk.Layers()
	d, _ := layers[0].Digest()
	diff, _ := layers[0].DiffID()
	if d != diff {
		t.Fatalf("plain layer digest %s, diff ID %s", d, diff)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := tar.NewReader(bytes.NewReader(raw)).Next()
	if err != nil || hdr.Name != "app" || int64(len(raw)) != a.Size {
		t.Fatalf("the blob is not the tar of /app (%d bytes, artifact %d): %+v %v", len(raw), a.Size, hdr, err)
	}

	// Unpacked from the store by a builder of its own, it runs.
	dir, _, err := New(Options{Store: h.store, Dir: h.dir}).Rootfs(context.Background(), a.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(dir, "app"), "-name=ladder").CombinedOutput(); err != nil || !strings.Contains(string(out), "hello, ladder from api") {
		t.Fatalf("running app: %v\n%s", err, out)
	}
}

// With Unpack, a Go image is unpacked as soon as it is stored, and the
// Rootfs that starts it takes that tree once it matches the seal taken as
// it was written: a tree altered in between, however soon, is unpacked
// again before it runs.
func TestUnpackAhead(t *testing.T) {
	src := copyFixture(t)
	plain := newHarness(t, "", nil)
	arts, _ := plain.build(t, stackFor(src, "api"))
	plain.Close()
	if isDir(filepath.Join(plain.dir, "rootfs", strings.TrimPrefix(arts["api"].Digest, "sha256:"))) {
		t.Fatal("a builder without Unpack unpacked the image")
	}

	h := newHarness(t, "", nil)
	h.opts.Unpack = true
	arts, _ = h.build(t, stackFor(src, "api"))
	digest := arts["api"].Digest
	h.Close() // waits for the unpack
	dir := filepath.Join(h.dir, "rootfs", strings.TrimPrefix(digest, "sha256:"))
	if !isDir(dir) {
		t.Fatal("the image was not unpacked ahead")
	}
	runs := func(what string) {
		t.Helper()
		if out, err := exec.Command(filepath.Join(dir, "app"), "-name=ladder").CombinedOutput(); err != nil || !strings.Contains(string(out), "hello, ladder from api") {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
	}
	// Another builder of the process (the target's) takes it as it is.
	other := New(Options{Store: h.store, Dir: h.dir, Memo: h.memo})
	got, _, err := other.Rootfs(context.Background(), digest)
	if err != nil || got != dir {
		t.Fatalf("Rootfs = %s, %v; want %s", got, err, dir)
	}
	runs("running the tree unpacked ahead")

	// A tree altered between its unpacking and its first use is caught.
	h2 := newHarness(t, "", nil)
	h2.opts.Unpack = true
	arts, _ = h2.build(t, stackFor(src, "api"))
	h2.Close()
	dir = filepath.Join(h2.dir, "rootfs", strings.TrimPrefix(arts["api"].Digest, "sha256:"))
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte("#!/bin/sh\necho altered\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	other = New(Options{Store: h2.store, Dir: h2.dir, Memo: h2.memo})
	if _, _, err := other.Rootfs(context.Background(), arts["api"].Digest); err != nil {
		t.Fatal(err)
	}
	runs("the tree altered before its first use ran")

	// And once used, so is a later alteration.
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte("#!/bin/sh\necho altered\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Rootfs(context.Background(), arts["api"].Digest); err != nil {
		t.Fatal(err)
	}
	runs("the altered tree was used again")
}

func TestImageNotFound(t *testing.T) {
	h := newHarness(t, "", nil)
	missing := "sha256:" + strings.Repeat("ab", 32)
	for _, when := range []string{"no layout", "empty layout"} {
		_, err := h.Image(missing)
		if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), missing) {
			t.Fatalf("%s: Image(missing) = %v, want ErrNotFound naming the digest", when, err)
		}
		h.layoutMu.Lock()
		_, err = h.layoutPath()
		h.layoutMu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Image("nope"); err == nil {
		t.Fatal("Image(malformed) succeeded")
	}
}

func TestRootfs(t *testing.T) {
	h := newHarness(t, "", nil)
	arts, _ := h.build(t, stackFor(copyFixture(t), "api"))
	digest := arts["api"].Digest

	dir, cfg, err := h.Rootfs(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(h.dir, "rootfs", strings.TrimPrefix(digest, "sha256:")); dir != want {
		t.Fatalf("rootfs dir %s, want %s", dir, want)
	}
	if !reflect.DeepEqual(cfg.Entrypoint, []string{"/app"}) || cfg.WorkingDir != "/" || !reflect.DeepEqual(cfg.Env, []string{"PATH=/"}) {
		t.Fatalf("config %+v", cfg)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok {
		t.Fatalf("exposed ports %v", cfg.ExposedPorts)
	}
	fi, err := os.Stat(filepath.Join(dir, "app"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("app: %v %v", fi, err)
	}
	out, err := exec.Command(filepath.Join(dir, "app"), "-name=ladder").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello, ladder from api") || !strings.Contains(string(out), "shop api") {
		t.Fatalf("running app: %v\n%s", err, out)
	}

	// Again: the same directory, not unpacked anew (no temp dirs left over).
	again, _, err := h.Rootfs(context.Background(), digest)
	if err != nil || again != dir {
		t.Fatalf("second Rootfs: %s, %v", again, err)
	}
	entries, _ := os.ReadDir(filepath.Join(h.dir, "rootfs"))
	if len(entries) != 2 {
		t.Fatalf("rootfs holds %d entries, want the tree and its manifest", len(entries))
	}
	if _, _, err := h.Rootfs(context.Background(), "sha256:"+strings.Repeat("0", 64)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Rootfs(missing) = %v", err)
	}
}

func TestCompileErrorNamesServiceAndOthersStillBuild(t *testing.T) {
	src := copyFixture(t)
	writeFile(t, filepath.Join(src, "services/worker/main.go"), "package main\n\nfunc main() {\n\tnope()\n}\n")
	h := newHarness(t, "", nil)
	arts, rep, err := h.Build(context.Background(), stackFor(src, "api", "worker"))
	if err == nil {
		t.Fatal("Build succeeded with a compile error")
	}
	msg := err.Error()
	if !strings.Contains(msg, `service "worker"`) || !strings.Contains(msg, "main.go:4:2: undefined: nope") {
		t.Fatalf("error does not name the service and the compiler line:\n%s", msg)
	}
	if strings.Contains(msg, `"api"`) {
		t.Fatalf("error blames api:\n%s", msg)
	}
	if _, ok := arts["api"]; !ok || !reflect.DeepEqual(rep.Built, []string{"api"}) {
		t.Fatalf("api was not built alongside the failure: %v %+v", arts, rep)
	}
	var failed bool
	for _, p := range h.events {
		failed = failed || (p.Service == "worker" && p.State == StateFailed && p.Err != nil)
	}
	if !failed {
		t.Fatalf("no failed progress for worker: %+v", h.events)
	}

	// Fixed: api is cached, worker builds.
	writeFile(t, filepath.Join(src, "services/worker/main.go"), "package main\n\nfunc main() {}\n")
	_, rep = h.build(t, stackFor(src, "api", "worker"))
	checkReport(t, rep, []string{"worker"}, []string{"api"})
}

func TestDockerfileWithoutEngineIsRefused(t *testing.T) {
	src := copyFixture(t)
	writeFile(t, filepath.Join(src, "services/docker/Dockerfile"), "FROM scratch\n")
	writeFile(t, filepath.Join(src, "services/docker/main.go"), "package main\n\nfunc main() {}\n")
	stack := stackFor(src, "api")
	stack.Compose.Services["docker"] = types.ServiceConfig{Name: "docker", WorkloadSpec: types.WorkloadSpec{Build: &types.BuildConfig{Context: "services/docker", Dockerfile: "Dockerfile"}}}
	stack.Compose.Services["named"] = types.ServiceConfig{Name: "named", WorkloadSpec: types.WorkloadSpec{Build: &types.BuildConfig{Context: "services/worker", Dockerfile: "build.Dockerfile"}}}
	stack.Compose.Services["inline"] = types.ServiceConfig{Name: "inline", WorkloadSpec: types.WorkloadSpec{Build: &types.BuildConfig{Context: "services/worker", DockerfileInline: "FROM scratch"}}}

	h := newHarness(t, "", nil) // no Options.Docker
	arts, rep, err := h.Build(context.Background(), stack)
	if !errors.Is(err, ErrDockerfile) {
		t.Fatalf("Build = %v, want ErrDockerfile", err)
	}
	for _, name := range []string{"docker", "named", "inline"} {
		if want := `service "` + name + `": Dockerfile builds need a Docker engine, and none is configured`; !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q lacks %q", err, want)
		}
	}
	if !strings.Contains(err.Error(), "DOCKER_HOST") {
		t.Fatalf("error %q does not say where the engine is looked for", err)
	}
	if _, ok := arts["api"]; !ok || !reflect.DeepEqual(rep.Built, []string{"api"}) {
		t.Fatalf("api not built: %v %+v", arts, rep)
	}
}

func TestNotAMainPackage(t *testing.T) {
	src := copyFixture(t)
	stack := &spec.Stack{Compose: &types.Project{WorkingDir: src, Services: types.Services{
		"lib": {Name: "lib", WorkloadSpec: types.WorkloadSpec{Build: &types.BuildConfig{Context: "internal/greet"}}},
	}}}
	h := newHarness(t, "", nil)
	_, _, err := h.Build(context.Background(), stack)
	if err == nil || !strings.Contains(err.Error(), `service "lib"`) || !strings.Contains(err.Error(), "not a Go main package") {
		t.Fatalf("Build = %v", err)
	}
}

func TestExposedPorts(t *testing.T) {
	got := exposedPorts([]types.ServicePortConfig{{Target: 9000, Protocol: "UDP"}, {Target: 8080}, {Target: 8080, Protocol: "tcp"}, {}})
	if want := []string{"8080/tcp", "9000/udp"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("exposedPorts = %v, want %v", got, want)
	}
}

func TestSanitizeGoflags(t *testing.T) {
	got := sanitizeGoflags("-mod=vendor -race -buildvcs=true -tags=netgo -toolexec=x -ldflags=-X=a -modcacherw -cover")
	if want := "-buildvcs=false -mod=vendor -tags=netgo -modcacherw"; got != want {
		t.Fatalf("sanitizeGoflags = %q, want %q", got, want)
	}
}

// layerFacts is what identifies an image's layers: each layer's digest,
// diff ID, size and the SHA-256 of its uncompressed stream as read.
func layerFacts(t *testing.T, img v1.Image) []string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range layers {
		d, _ := l.Digest()
		diff, _ := l.DiffID()
		size, _ := l.Size()
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		out = append(out, fmt.Sprintf("%s %s %d sha256:%x", d, diff, size, h.Sum(nil)))
	}
	return out
}

// Services built from one context (an API and its worker from one main
// package) share one go build: each gets its own image of the same
// binary, and a compile error names each of them.
func TestServicesOfOneContextShareTheirCompile(t *testing.T) {
	src := copyFixture(t)
	stack := stackFor(src, "api", "worker", "web")
	for _, name := range []string{"worker", "web"} {
		svc := stack.Compose.Services[name]
		svc.Build.Context = "services/api"
		stack.Compose.Services[name] = svc
	}
	h := newHarness(t, "", nil)
	arts, rep := h.build(t, stack)
	checkReport(t, rep, []string{"api", "web", "worker"}, nil)
	if n := h.builds.Load(); n != 1 {
		t.Errorf("three services of one context ran go build %d times, want 1", n)
	}
	binaries := map[string]bool{}
	for name, a := range arts {
		if a.Service != name || !snapshot.ValidDigest(a.Digest) {
			t.Errorf("artifact %s: %+v", name, a)
		}
		binaries[a.Digest] = true
	}
	if len(binaries) != 3 {
		t.Errorf("artifacts %v: want an image of its own per service", arts)
	}

	writeFile(t, filepath.Join(src, "services/api/main.go"), "package main\n\nfunc main() {\n\tnope()\n}\n")
	h.reset()
	_, _, err := h.Build(context.Background(), stack)
	if err == nil {
		t.Fatal("Build succeeded with a compile error")
	}
	for _, name := range []string{"api", "web", "worker"} {
		if !strings.Contains(err.Error(), fmt.Sprintf("service %q: go build failed", name)) {
			t.Errorf("the error does not name %s:\n%v", name, err)
		}
	}
	if n := h.builds.Load(); n != 1 {
		t.Errorf("a failing compile of one context ran go build %d times, want 1", n)
	}
}

// A context whose sources changed is compiled beside go list, not after
// it: here go list is held until go build has started, which would never
// happen if they ran one after the other.
func TestChangedContextCompilesBesideGoList(t *testing.T) {
	src := copyFixture(t)
	stack := stackFor(src, "api", "worker")
	h := newHarness(t, "", nil)
	first, _ := h.build(t, stack)
	main := filepath.Join(src, "services/worker/main.go")
	writeFile(t, main, strings.Replace(readFile(t, main), `"worker"`, `"worker v2"`, 1))

	started := make(chan struct{})
	var once sync.Once
	count := h.goHook
	h.goHook = func(args []string) {
		count(args)
		switch args[0] {
		case "build":
			once.Do(func() { close(started) })
		case "list":
			select {
			case <-started:
			case <-time.After(20 * time.Second):
				t.Error("go list ran while no go build had started")
			}
		}
	}
	arts, rep := h.build(t, stack)
	checkReport(t, rep, []string{"worker"}, []string{"api"})
	if n := h.builds.Load(); n != 1 {
		t.Errorf("go build ran %d times, want 1", n)
	}
	if arts["worker"].Digest == first["worker"].Digest || arts["api"].Digest != first["api"].Digest {
		t.Errorf("artifacts %v after editing worker, were %v", arts, first)
	}
}

// A compile started because a file changed is stopped when the inputs turn
// out to be built already (the file was touched, not changed), and leaves
// nothing behind; one where only a directory changed (a new test file)
// does not start at all.
func TestUnneededCompileIsStopped(t *testing.T) {
	src := copyFixture(t)
	stack := stackFor(src, "api", "worker")
	h := newHarness(t, "", nil)
	first, _ := h.build(t, stack)
	main := filepath.Join(src, "services/worker/main.go")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(main, later, later); err != nil {
		t.Fatal(err)
	}
	arts, rep := h.build(t, stack)
	checkReport(t, rep, nil, []string{"api", "worker"})
	if !reflect.DeepEqual(arts, first) {
		t.Errorf("artifacts %v after a touch, were %v", arts, first)
	}
	if left := tmpLeft(h); len(left) > 0 {
		t.Errorf("the stopped compile left %d entries in the builder's tmp", len(left))
	}
	writeFile(t, filepath.Join(src, "services/worker/main_test.go"), "package main\n")
	arts, rep = h.build(t, stack)
	checkReport(t, rep, nil, []string{"api", "worker"})
	if n := h.builds.Load(); n != 0 || !reflect.DeepEqual(arts, first) {
		t.Errorf("a new test file: go build ran %d times, artifacts %v", n, arts)
	}
}

// build.labels label a Go image as they do a Dockerfile's, beside ladder's
// own (which win), and are part of its inputs; a service without labels
// keeps the inputs it had.
func TestGoImageLabels(t *testing.T) {
	src := copyFixture(t)
	h := newHarness(t, "", nil)
	plain, _ := h.build(t, stackFor(src, "api"))

	stack := stackFor(src, "api")
	stack.Compose.Services["api"].Build.Labels = types.Labels{"org.example.team": "core", LabelTitle: "not-api"}
	labelled, rep := h.build(t, stack)
	checkReport(t, rep, []string{"api"}, nil)
	if labelled["api"].Inputs == plain["api"].Inputs {
		t.Fatal("labels left the inputs as they were")
	}
	img, err := h.Image(labelled["api"].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if l := cf.Config.Labels; l["org.example.team"] != "core" || l[LabelTitle] != "api" || l[LabelInputs] != labelled["api"].Inputs {
		t.Fatalf("labels %v", l)
	}

	again, rep := h.build(t, stackFor(src, "api"))
	checkReport(t, rep, nil, []string{"api"})
	if again["api"].Digest != plain["api"].Digest {
		t.Fatal("without labels the service is not the artifact it was")
	}
}

// A build ladder makes from Go sources (no Dockerfile) refuses the fields
// only a Dockerfile build reads, rather than build without them; validate
// finds the same through GoBuildProblems.
func TestGoBuildRefusesDockerfileOnlyFields(t *testing.T) {
	src := copyFixture(t)
	v := "1"
	for field, set := range map[string]func(*types.BuildConfig){
		"args":        func(bc *types.BuildConfig) { bc.Args = types.MappingWithEquals{"VERSION": &v} },
		"target":      func(bc *types.BuildConfig) { bc.Target = "final" },
		"extra_hosts": func(bc *types.BuildConfig) { bc.ExtraHosts = types.HostsList{"db": {"10.0.0.2"}} },
	} {
		stack := stackFor(src, "api")
		set(stack.Compose.Services["api"].Build)
		h := newHarness(t, "", nil)
		_, _, err := h.Build(context.Background(), stack)
		var ce *ConfigError
		want := "service \"api\": build." + field + " applies to Dockerfile builds, and ./services/api has no Dockerfile"
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Build: %v, want a ConfigError saying %q", field, err, want)
		}
		if got := GoBuildProblems(stack)["api"]; got[0] != field || !strings.Contains(got[1], "has no Dockerfile") {
			t.Errorf("%s: GoBuildProblems = %q", field, got)
		}
	}
	if got := GoBuildProblems(stackFor(src, "api")); len(got) != 0 {
		t.Errorf("a plain Go build has problems: %v", got)
	}
}
