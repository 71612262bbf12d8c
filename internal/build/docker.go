package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	dockerbuild "github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// DockerEngine is the part of the Docker Engine API client that Dockerfile
// builds use; *client.Client (see NewDockerClient) satisfies it.
type DockerEngine interface {
	ImageBuild(ctx context.Context, buildContext io.Reader, options dockerbuild.ImageBuildOptions) (dockerbuild.ImageBuildResponse, error)
	ImageSave(ctx context.Context, images []string, opts ...client.ImageSaveOption) (io.ReadCloser, error)
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageRemove(ctx context.Context, image string, options image.RemoveOptions) ([]image.DeleteResponse, error)
	// DialHijack reaches the engine's BuildKit (see buildkit.ConnectEngine).
	DialHijack(ctx context.Context, url, proto string, meta map[string][]string) (net.Conn, error)
}

var _ DockerEngine = (*client.Client)(nil)

// NewDockerClient returns a client of the engine that DOCKER_HOST (and
// DOCKER_API_VERSION, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY) name, the local
// socket by default, speaking whatever API version the engine has. It does
// not connect: an unreachable engine shows on first use.
func NewDockerClient() (*client.Client, error) {
	return client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
}

// dockerHost describes the engine address for error messages.
func dockerHost() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return "DOCKER_HOST=" + h
	}
	return "DOCKER_HOST unset, so " + client.DefaultDockerHost
}

// buildDockerfile builds j with BuildKit (see buildBuildKit) or, where
// the engine has none, with the engine's classic builder, and stores the
// image, made reproducible by normaliseImage.
//
// Reproducibility: a Go image's digest is a function of its inputs hash,
// on any machine. A Dockerfile image's is only where the layers the engine
// makes are: ladder sends every context file with the epoch as mtime and
// root as owner, so FROM scratch (or a local image) plus COPY/ADD of
// context files gives the same layers, and so the same digest, on every
// machine; RUN steps write files stamped with the time they ran, and
// base images are whatever the engine holds. Build-once holds regardless:
// an unchanged inputs hash reuses the stored artifact, never the engine.
func (b *Builder) buildDockerfile(ctx context.Context, s *session, j *job, inputs string) (snapshot.Artifact, error) {
	fail := func(format string, a ...any) (snapshot.Artifact, error) {
		return snapshot.Artifact{}, fmt.Errorf("service %q: "+format, append([]any{j.service}, a...)...)
	}
	if be := b.backend(ctx); be.bk != nil {
		return b.buildBuildKit(ctx, s, j, inputs, be.bk)
	}
	d := b.opts.Docker
	// Read again: the inputs hash was made from this content unless the
	// file changed since, a race the Go builder has as well.
	df, err := j.docker.read(j.context)
	if err != nil {
		return fail("%w", err)
	}
	tag := tempTag(j.service, inputs)
	// Cleanup runs even when ctx was cancelled.
	cleanupCtx := context.WithoutCancel(ctx)

	pr, pw := io.Pipe()
	sent := make(chan error, 1)
	go func() {
		err := writeContextTar(pw, j.context, df, b.contextSkips(j.context))
		pw.CloseWithError(err)
		sent <- err
	}()
	resp, err := d.ImageBuild(ctx, pr, dockerbuild.ImageBuildOptions{
		Tags:       []string{tag},
		Dockerfile: df.name,
		BuildArgs:  map[string]*string(j.docker.args),
		Target:     j.docker.target,
		Labels:     j.labels,
		ExtraHosts: classicHosts(j.docker.extraHosts),
		Version:    dockerbuild.BuilderV1,
		PullParent: false,
		// The engine's cache may hold layers from builds ladder did not
		// normalise, and ladder's own cache decides what to rebuild.
		NoCache:     true,
		Remove:      true,
		ForceRemove: true,
	})
	var buildErr error
	var blog *buildLog
	if err != nil {
		buildErr = engineErr(err)
	} else {
		blog = &buildLog{emit: func(line string) { b.log(j.service, line) }}
		buildErr = blog.consume(resp.Body)
		resp.Body.Close()
	}
	pr.CloseWithError(errBuildDone)
	// The context writer's own failure (a file it could not read) says
	// more than the engine's "unexpected EOF"; a pipe closed on it does not.
	if err := <-sent; err != nil && !errors.Is(err, errBuildDone) && !errors.Is(err, io.ErrClosedPipe) && buildErr != nil {
		return fail("sending the build context: %w", err)
	}
	if blog != nil {
		// Deferred first, so it runs after the tag's removal below.
		defer b.removeIntermediates(cleanupCtx, blog.ids)
	}
	if buildErr != nil {
		if ctx.Err() != nil {
			return fail("docker build: %w", ctx.Err())
		}
		return fail("docker build failed: %w", buildErr)
	}
	// The tag (and the intermediate images above the base) go once the
	// image is exported; the layout is where ladder keeps it.
	defer d.ImageRemove(cleanupCtx, tag, image.RemoveOptions{PruneChildren: true})

	tmp, err := b.mkTemp(filepath.Join(b.opts.Dir, "tmp"), "docker-"+safeName(j.service)+"-")
	if err != nil {
		return fail("%w", err)
	}
	defer os.RemoveAll(tmp)
	img, size, err := exportImage(ctx, d, tag, tmp, j.service, inputs)
	if err != nil {
		return fail("exporting the built image from the Docker engine: %w", err)
	}
	digest, err := b.storeImage(s, img, j.service)
	if err != nil {
		return fail("storing the image: %w", err)
	}
	return snapshot.Artifact{Service: j.service, Digest: digest, Builder: builderDockerfile, Inputs: inputs, Size: size, Bases: j.bases}, nil
}

// engineErr names the engine's address in an error reaching it; the
// engine's own answers (a Dockerfile it cannot parse) are left as they are.
func engineErr(err error) error {
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("Docker engine not reachable (%s): %w", dockerHost(), err)
	}
	return err
}

// errBuildDone stops the context writer of a build the engine has ended.
var errBuildDone = errors.New("the build ended")

// removeIntermediates removes the images a build's steps made that
// nothing tags: removing the final image's tag prunes its own ancestors,
// but a failed build has no tag, and a multi-stage build leaves the other
// stages' images behind. Newest first, as an image with children stays.
func (b *Builder) removeIntermediates(ctx context.Context, ids []string) {
	for i := len(ids) - 1; i >= 0; i-- {
		info, err := b.opts.Docker.ImageInspect(ctx, ids[i])
		if err != nil || len(info.RepoTags) > 0 {
			continue
		}
		b.opts.Docker.ImageRemove(ctx, ids[i], image.RemoveOptions{PruneChildren: true})
	}
}

// tempTag is the engine tag a build goes under until it is exported.
func tempTag(service, inputs string) string {
	var r [4]byte
	rand.Read(r[:])
	return "ladder-build-" + refComponent(service, "service") + ":" + inputs[:min(12, len(inputs))] + "-" + hex.EncodeToString(r[:])
}

// jsonMessage is one message of the engine's build and load streams.
type jsonMessage struct {
	Stream      string                    `json:"stream"`
	Status      string                    `json:"status"`
	Error       string                    `json:"error"`
	ErrorDetail *struct{ Message string } `json:"errorDetail"`
	Aux         json.RawMessage           `json:"aux"`
}

func (m *jsonMessage) err() string {
	if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
		return m.ErrorDetail.Message
	}
	return m.Error
}

// tailLines is how much of a failed build's log its error carries.
const tailLines = 20

// buildLog reads a build's message stream, hands each output line on as it
// arrives, and keeps what a failure's error needs.
type buildLog struct {
	emit    func(string)
	partial string
	lines   []string // the last tailLines lines
	step    string   // the last "Step n/m : ..." line
	stepAt  int      // how many lines were seen when it came
	seen    int
	ids     []string // the " ---> <id>" images of the steps but FROM
}

func (l *buildLog) line(s string) {
	l.emit(s)
	if strings.HasPrefix(s, "Step ") {
		l.step, l.stepAt = s, l.seen
	}
	// A FROM step's image is the base image, which is not the build's.
	if id, ok := strings.CutPrefix(s, " ---> "); ok && len(id) == 12 && strings.Trim(id, "0123456789abcdef") == "" &&
		!strings.Contains(strings.ToUpper(l.step), " : FROM ") {
		l.ids = append(l.ids, id)
	}
	l.seen++
	l.lines = append(l.lines, s)
	if len(l.lines) > tailLines {
		l.lines = l.lines[1:]
	}
}

// consume reads the stream to its end and returns the build's error, with
// the failing step's output (its last tailLines lines at most).
func (l *buildLog) consume(r io.Reader) error {
	dec := json.NewDecoder(r)
	var failed string
	for {
		var m jsonMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("reading the build output: %w", err)
		}
		text := l.partial + m.Stream
		if m.Status != "" {
			text += m.Status + "\n"
		}
		lines := strings.Split(text, "\n")
		l.partial = lines[len(lines)-1]
		for _, s := range lines[:len(lines)-1] {
			l.line(strings.TrimRight(s, "\r"))
		}
		if e := m.err(); e != "" {
			failed = e
		}
	}
	if l.partial != "" {
		l.line(l.partial)
		l.partial = ""
	}
	if failed == "" {
		return nil
	}
	// From the failing step on; when that scrolled out, keep its line.
	tail := l.lines
	if since := l.seen - l.stepAt; l.step != "" && since <= len(tail) {
		tail = tail[len(tail)-since:]
	} else if l.step != "" {
		tail = append([]string{l.step, "..."}, tail[2:]...)
	}
	return fmt.Errorf("%s\n%s", failed, strings.Join(tail, "\n"))
}

// classicHosts turns "host=ip" entries into the engine's "host:ip".
func classicHosts(hosts []string) []string {
	var out []string
	for _, e := range hosts {
		host, ip, _ := strings.Cut(e, "=")
		out = append(out, host+":"+ip)
	}
	return out
}
