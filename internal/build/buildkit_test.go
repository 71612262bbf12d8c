package build

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/client"
	"golang.org/x/crypto/ssh"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
)

// featureDockerfile uses every Dockerfile feature ladder supports with
// BuildKit; modern adds what the engine's BuildKit 0.8 lacks (heredocs,
// COPY --link). Stage "unused" and stage "after" name images nobody has:
// building target "final" must neither need nor look for them.
func featureDockerfile(modern bool, absent, cacheID string) string {
	var b strings.Builder
	w := func(s string) { b.WriteString(s + "\n") }
	if modern {
		w("# syntax=docker/dockerfile:1")
	}
	w("ARG BASE")
	w("FROM " + absent + ":1 AS unused")
	w("RUN false")
	w("FROM --platform=$BUILDPLATFORM ${BASE} AS build")
	w("ARG GREETING=hello")
	w("ARG TARGETARCH")
	w("WORKDIR /src")
	w("COPY . .")
	w("RUN test ! -e notes && test ! -e build.log && test ! -e .ladder && test -e config.txt")
	cache := "--mount=type=cache,id=" + cacheID + ",target=/cache"
	if modern {
		w("RUN " + cache + " <<EOF")
		w("set -e")
		w(`echo "$GREETING from $TARGETARCH" > /out.txt`)
		w("echo run >> /cache/runs")
		w("cp /cache/runs /runs.txt")
		w("EOF")
	} else {
		w("RUN " + cache + ` echo "$GREETING from $TARGETARCH" > /out.txt && echo run >> /cache/runs && cp /cache/runs /runs.txt`)
	}
	// The secrets' values are compared by hash: the command line shows in
	// the build log, the values must not.
	w(`RUN --mount=type=secret,id=token --mount=type=secret,id=envtok ` +
		`test "$(sha256sum < /run/secrets/token)" = "` + sha256Line("file-secret") + `" && ` +
		`test "$(sha256sum < /run/secrets/envtok)" = "` + sha256Line("env-secret") + `" && echo secrets-ok > /secrets.txt`)
	w(`RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo ssh-ok > /ssh.txt`)
	w(`RUN grep -q "^10.1.2.3[[:space:]]*db.internal" /etc/hosts && echo hosts-ok > /hosts.txt`)
	w("FROM scratch AS final")
	link := ""
	if modern {
		link = "--link "
	}
	w("COPY " + link + "--from=build /out.txt /runs.txt /secrets.txt /ssh.txt /hosts.txt /")
	w("COPY " + link + "app config.txt /")
	if modern {
		w("COPY <<EOF /heredoc.txt")
		w("made by a heredoc")
		w("EOF")
	}
	w(`ENTRYPOINT ["/app"]`)
	w("FROM " + absent + ":2 AS after")
	return b.String()
}

// featureStack is the stack of one service built from dir with every
// build setting: args, target, secrets from a file and from the
// environment, an SSH key, labels and an extra host.
func featureStack(t *testing.T, dir, base string) *spec.Stack {
	t.Helper()
	secretFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, secretFile, "file-secret")
	t.Setenv("LADDER_TEST_BUILD_SECRET", "env-secret")
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	greeting := "bonjour"
	proj := &types.Project{Name: "feat", WorkingDir: dir, Services: types.Services{
		"app": {Name: "app", WorkloadSpec: types.WorkloadSpec{Build: &types.BuildConfig{
			Context: ".", Dockerfile: "Dockerfile", Target: "final",
			Args:       types.MappingWithEquals{"BASE": &base, "GREETING": &greeting},
			Secrets:    []types.ServiceSecretConfig{{Source: "token"}, {Source: "env_token", Target: "envtok"}},
			SSH:        types.SSHConfig{{ID: "default", Path: keyFile}},
			Labels:     types.Labels{"org.example.team": "core"},
			ExtraHosts: types.HostsList{"db.internal": {"10.1.2.3"}},
		}}},
	}, Secrets: types.Secrets{
		"token":     {File: secretFile},
		"env_token": {Environment: "LADDER_TEST_BUILD_SECRET"},
	}}
	return &spec.Stack{Name: "feat", File: filepath.Join(dir, "compose.yaml"), Compose: proj}
}

// checkFeatures builds the feature Dockerfile with h, checks the image,
// a cached rebuild, a rebuild after one line changed (the cache mount
// keeps its content), and runs the image in the engine.
func checkFeatures(t *testing.T, h *harness, modern bool) {
	cli := engine(t)
	base := busybox(t, cli)
	src := dockerFixture(t)
	writeFile(t, filepath.Join(src, "Dockerfile"), featureDockerfile(modern, uniqueName("ladder-test-absent-"), uniqueName("ladder-test-cache-")))
	writeFile(t, filepath.Join(src, "build.log"), "ignored\n")
	// ladder's state inside the context is never sent.
	h.opts.StateDir = filepath.Join(src, ".ladder")
	writeFile(t, filepath.Join(src, ".ladder", "ladder.db"), "state\n")
	age(t, src)
	stack := featureStack(t, src, base)
	var logged []string
	h.opts.Log = func(_, line string) { logged = append(logged, line) }

	arts, rep := h.build(t, stack)
	checkReport(t, rep, []string{"app"}, nil)
	a := arts["app"]
	info, err := cli.ImageInspect(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	if want := []snapshot.BaseImage{{Ref: base, ID: info.ID}}; !reflect.DeepEqual(a.Bases, want) {
		t.Fatalf("bases %+v, want %+v", a.Bases, want)
	}
	img, err := h.Image(a.Digest)
	if err != nil {
		t.Fatal(err)
	}
	files := imageFiles(t, img)
	want := map[string]string{
		"out.txt": "bonjour from " + runtime.GOARCH + "\n", "runs.txt": "run\n", "secrets.txt": "secrets-ok\n", "ssh.txt": "ssh-ok\n", "hosts.txt": "hosts-ok\n",
		"config.txt": "greeting=hello\n",
	}
	if modern {
		want["heredoc.txt"] = "made by a heredoc\n"
	}
	for name, content := range want {
		if files[name] != content {
			t.Errorf("/%s = %q, want %q", name, files[name], content)
		}
	}
	if len(files) != len(want)+1 { // and /app
		t.Errorf("image files: %v", keys(files))
	}
	for _, f := range []string{"file-secret", "env-secret"} {
		if strings.Contains(strings.Join(logged, "\n"), f) {
			t.Errorf("build log shows secret %q", f)
		}
	}
	cf, _ := img.ConfigFile()
	if !cf.Created.Time.Equal(epoch) || cf.Config.Labels[LabelInputs] != a.Inputs || !reflect.DeepEqual(cf.Config.Entrypoint, []string{"/app"}) ||
		cf.Config.Labels["org.example.team"] != "core" {
		t.Fatalf("config %+v", cf)
	}

	// Unchanged: cached, with its bases.
	h2 := dockerHarness(t, h.opts.Docker, h.dir, h.store)
	h2.opts.BuildKitHost, h2.opts.StateDir = h.opts.BuildKitHost, h.opts.StateDir
	writeFile(t, filepath.Join(src, ".ladder", "ladder.db"), "state changed by the last up\n")
	again, rep := h2.build(t, stack)
	checkReport(t, rep, nil, []string{"app"})
	if !reflect.DeepEqual(again["app"], a) {
		t.Fatalf("cached %+v, want %+v", again["app"], a)
	}

	// A label is part of the inputs: changed, the image is built again
	// with it; changed back, the first artifact is found again.
	stack.Compose.Services["app"].Build.Labels["org.example.team"] = "edge"
	relabelled, rep := h2.build(t, stack)
	checkReport(t, rep, []string{"app"}, nil)
	if relabelled["app"].Inputs == a.Inputs {
		t.Fatal("a changed label left the inputs as they were")
	}
	rimg, err := h2.Image(relabelled["app"].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if rcf, _ := rimg.ConfigFile(); rcf.Config.Labels["org.example.team"] != "edge" {
		t.Fatalf("labels after the change: %v", rcf.Config.Labels)
	}
	stack.Compose.Services["app"].Build.Labels["org.example.team"] = "core"
	if back, rep := h2.build(t, stack); len(rep.Built) != 0 || back["app"].Digest != a.Digest {
		t.Fatalf("the label changed back was built again: %+v", rep)
	}

	// One line changed: rebuilt; the cache mount kept the first run's file.
	writeFile(t, filepath.Join(src, "config.txt"), "greeting=salut\n")
	rebuilt, rep := h2.build(t, stack)
	checkReport(t, rep, []string{"app"}, nil)
	img2, err := h2.Image(rebuilt["app"].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if f := imageFiles(t, img2); f["runs.txt"] != "run\nrun\n" || f["config.txt"] != "greeting=salut\n" {
		t.Fatalf("after a change: runs.txt %q, config.txt %q", f["runs.txt"], f["config.txt"])
	}

	ref := ImageRef(uniqueName("ladder-test-"), "app", rebuilt["app"].Digest)
	removeImage(t, cli, ref)
	id, err := LoadImage(context.Background(), cli, img2, ref)
	if err != nil {
		t.Fatal(err)
	}
	if out := runImage(t, cli, ref, id); out != "dockerapp says greeting=salut\n" {
		t.Fatalf("container output %q", out)
	}
}

// sha256Line is what busybox's `sha256sum < file` prints for content.
func sha256Line(content string) string {
	return fmt.Sprintf("%x  -", sha256.Sum256([]byte(content)))
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A current buildkitd at an address: all of the Dockerfile syntax, base
// images from the engine handed over through ladder's OCI layout.
func TestBuildKitAtAddress(t *testing.T) {
	addr := buildkitd(t)
	h := dockerHarness(t, engine(t), "", nil)
	h.opts.BuildKitHost = addr
	checkFeatures(t, h, true)
	// The base image went into the artifact store once, under its ID.
	idx, err := h.readIndex()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range idx.Manifests {
		if m.Annotations[AnnotationBaseID] != "" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d base images in the artifact store, want 1", n)
	}
}

// The Docker engine's own BuildKit, with the syntax its version has.
func TestBuildKitOfEngine(t *testing.T) {
	h := dockerHarness(t, engine(t), "", nil)
	checkFeatures(t, h, false)
	for _, e := range h.events {
		if e.State == StateNotice {
			t.Fatalf("notice with an engine that has BuildKit: %s", e.Detail)
		}
	}
}

// A Dockerfile the engine's BuildKit cannot parse fails with a hint that
// names the way to a current BuildKit. (An engine whose BuildKit parses
// both builds them, which this test then checks instead.)
func TestBuildKitOfEngineSyntaxHint(t *testing.T) {
	cli := engine(t)
	for name, df := range map[string]string{
		"heredoc":   "FROM scratch\nCOPY <<EOF /note\nnote\nEOF\n",
		"copy link": "FROM scratch\nCOPY --link config.txt /config.txt\n",
	} {
		t.Run(name, func(t *testing.T) {
			src := dockerFixture(t)
			writeFile(t, filepath.Join(src, "Dockerfile"), df)
			h := dockerHarness(t, cli, "", nil)
			_, _, err := h.Build(t.Context(), dockerStack(src, map[string]string{"app": "Dockerfile"}))
			if err == nil {
				t.Logf("the engine's BuildKit builds %s", name)
				return
			}
			if !strings.Contains(err.Error(), "set LADDER_BUILDKIT_HOST to a current buildkitd") {
				t.Fatalf("error without the hint: %v", err)
			}
		})
	}
}

// With a BuildKit at an address, a FROM scratch + COPY image has the same
// digest wherever it is built: file times and owners are fixed.
func TestBuildKitReproducible(t *testing.T) {
	addr := buildkitd(t)
	cli := engine(t)
	var digests []string
	for i := range 2 {
		src := dockerFixture(t)
		writeFile(t, filepath.Join(src, "Dockerfile"), "FROM scratch\nCOPY --link app /app\nCOPY config.txt /etc/app/config.txt\nCOPY <<EOF /etc/app/note\nnote\nEOF\n")
		// Checked out at another time: other mtimes.
		at := time.Now().Add(-time.Duration(i+1) * time.Hour)
		for _, f := range []string{"app", "config.txt", "Dockerfile"} {
			if err := os.Chtimes(filepath.Join(src, f), at, at); err != nil {
				t.Fatal(err)
			}
		}
		h := dockerHarness(t, cli, "", nil)
		h.opts.BuildKitHost = addr
		arts, _ := h.build(t, dockerStack(src, map[string]string{"app": "Dockerfile"}))
		digests = append(digests, arts["app"].Digest)
	}
	if digests[0] != digests[1] {
		t.Fatalf("same sources, two digests: %v", digests)
	}
}

// What a build needs and nobody provides is a configuration error that
// says what to do; a base image in an unused stage is not needed.
func TestBuildKitConfigErrors(t *testing.T) {
	cli := engine(t)
	base := busybox(t, cli)
	absent := uniqueName("ladder-test-absent-")
	src := dockerFixture(t)
	writeFile(t, filepath.Join(src, "stage.Dockerfile"), "FROM scratch AS build\nCOPY app /app\nFROM build AS final\n")
	writeFile(t, filepath.Join(src, "base.Dockerfile"), "FROM "+base+" AS tools\nFROM scratch\nCOPY --from=tools /bin/busybox /busybox\nCOPY --from="+absent+":1 /x /x\n")
	writeFile(t, filepath.Join(src, "unused.Dockerfile"), "FROM "+absent+":2 AS test\nRUN false\nFROM scratch AS final\nCOPY app /app\n")
	stack := dockerStack(src, map[string]string{"stage": "stage.Dockerfile", "base": "base.Dockerfile", "unused": "unused.Dockerfile"})
	stack.Compose.Services["stage"].Build.Target = "release"
	h := dockerHarness(t, cli, "", nil)
	arts, rep, err := h.Build(context.Background(), stack)
	var ce *ConfigError
	if err == nil || !errors.As(err, &ce) {
		t.Fatalf("Build: %v, want a ConfigError", err)
	}
	for _, want := range []string{
		`service "stage": build target "release" is not a stage of stage.Dockerfile (its stages: build, final)`,
		`service "base": base.Dockerfile needs image "` + absent + `:1" (stage 1, line 4), which the Docker engine does not have; ` +
			"ladder never pulls base images: run `docker pull " + absent + ":1`",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, ok := arts["unused"]; !ok || len(rep.Built) != 1 {
		t.Fatalf("the service with an unused stage's image was not built: %v", err)
	}
}

// Where the engine has no BuildKit the classic builder builds, and ladder
// says so once; build secrets, which it cannot mount, are refused.
func TestBuildKitFallbackToClassic(t *testing.T) {
	cli := noBuildKitEngine(t)
	src := dockerFixture(t)
	writeFile(t, filepath.Join(src, "second.Dockerfile"), "FROM scratch\nCOPY config.txt /config.txt\n")
	h := dockerHarness(t, cli, "", nil)
	var logged []string
	h.opts.Log = func(_, line string) { logged = append(logged, line) }
	classic := dockerStack(src, map[string]string{"one": "Dockerfile", "two": "second.Dockerfile"})
	classic.Compose.Services["two"].Build.Labels = types.Labels{"org.example.team": "core"}
	arts, rep := h.build(t, classic)
	checkReport(t, rep, []string{"one", "two"}, nil)
	if img, err := h.Image(arts["two"].Digest); err != nil {
		t.Fatal(err)
	} else if cf, _ := img.ConfigFile(); cf.Config.Labels["org.example.team"] != "core" {
		t.Fatalf("the classic builder's image has labels %v", cf.Config.Labels)
	}
	var notices []string
	for _, e := range h.events {
		if e.State == StateNotice {
			notices = append(notices, e.Detail)
		}
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "has no BuildKit (unable to upgrade to h2c, received 404)") || !strings.Contains(notices[0], "classic builder") ||
		!strings.Contains(notices[0], "LADDER_BUILDKIT_HOST") {
		t.Fatalf("notices %q", notices)
	}
	if testing.Verbose() {
		t.Log(notices[0])
	}
	if !strings.Contains(strings.Join(logged, "\n"), "Step 1/") || arts["one"].Digest == "" {
		t.Fatalf("not built by the classic builder: %q", logged)
	}

	stack := featureStack(t, src, "unused")
	_, _, err := dockerHarness(t, cli, "", nil).Build(context.Background(), stack)
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "build secrets and ssh need BuildKit") {
		t.Fatalf("secrets with the classic builder: %v", err)
	}

	// An engine that does not answer is no reason to fall back.
	gone, err := client.NewClientWithOpts(client.WithHost("unix://"+filepath.Join(t.TempDir(), "no-engine.sock")), client.WithVersion("1.41"))
	if err != nil {
		t.Fatal(err)
	}
	h = dockerHarness(t, gone, "", nil)
	_, _, err = h.Build(context.Background(), dockerStack(src, map[string]string{"one": "Dockerfile"}))
	if err == nil || !strings.Contains(err.Error(), "Docker engine not reachable (") || !strings.Contains(err.Error(), "no-engine.sock") || errors.As(err, &ce) {
		t.Fatalf("no engine: %v", err)
	}
	for _, e := range h.events {
		if e.State == StateNotice {
			t.Fatalf("notice without an engine: %s", e.Detail)
		}
	}
}

// A context that holds the project directory holds ladder's state too;
// it is never sent nor hashed, so an up after an up builds nothing.
func TestStateDirIsNotContext(t *testing.T) {
	cli := engine(t)
	src := dockerFixture(t)
	writeFile(t, filepath.Join(src, "Dockerfile"), "FROM scratch\nCOPY . /ctx/\n")
	state := filepath.Join(src, ".ladder")
	for _, classic := range []bool{false, true} {
		h := dockerHarness(t, cli, filepath.Join(state, "artifacts"), nil)
		h.opts.StateDir = state
		if classic {
			h.opts.BuildKitHost = BuildKitClassic
		}
		stack := dockerStack(src, map[string]string{"app": "Dockerfile"})
		first, _ := h.build(t, stack)
		writeFile(t, filepath.Join(state, "ladder.db"), "written by the up\n")
		h2 := dockerHarness(t, cli, h.dir, h.store)
		h2.opts.StateDir, h2.opts.BuildKitHost = state, h.opts.BuildKitHost
		second, rep := h2.build(t, stack)
		checkReport(t, rep, nil, []string{"app"})
		if second["app"].Digest != first["app"].Digest {
			t.Fatalf("classic %v: two ups, two digests", classic)
		}
		img, err := h.Image(first["app"].Digest)
		if err != nil {
			t.Fatal(err)
		}
		for name := range imageFiles(t, img) {
			if strings.Contains(name, ".ladder") {
				t.Fatalf("classic %v: %s in the image", classic, name)
			}
		}
	}
}

// A BuildKit at an address builds without a Docker engine, as long as no
// base image is needed: one is a configuration error saying so.
func TestBuildKitAtAddressWithoutEngine(t *testing.T) {
	addr := buildkitd(t)
	src := dockerFixture(t)
	writeFile(t, filepath.Join(src, "base.Dockerfile"), "FROM busybox:1\nCOPY app /app\n")
	h := newHarness(t, "", nil)
	h.opts.BuildKitHost = addr
	arts, rep, err := h.Build(context.Background(), dockerStack(src, map[string]string{"scratch": "Dockerfile", "base": "base.Dockerfile"}))
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `base.Dockerfile needs image "busybox:1" (stage 0, line 1), and no Docker engine answers`) {
		t.Fatalf("Build: %v", err)
	}
	if len(rep.Built) != 1 || arts["scratch"].Digest == "" {
		t.Fatalf("FROM scratch not built: %+v", rep)
	}
}
