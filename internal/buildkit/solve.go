package buildkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/core/content"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"
)

// Secret is a build secret (RUN --mount=type=secret,id=ID): the content of
// a file or of an environment variable of this process. Its content never
// leaves this process except to the build step that mounts it.
type Secret struct {
	ID   string
	File string
	Env  string
}

// SSH is an SSH agent a build may use (RUN --mount=type=ssh,id=ID): a
// socket, or key files served by an agent in this process. No path means
// the agent of SSH_AUTH_SOCK.
type SSH struct {
	ID    string
	Paths []string
}

// Dockerfile is one Dockerfile build.
type Dockerfile struct {
	// Context is the build context; Dockerfile holds the Dockerfile as
	// Filename (the context and the Dockerfile are sent separately).
	Context    fsutil.FS
	Dockerfile fsutil.FS
	Filename   string
	// BuiltinFrontend makes BuildKit parse the Dockerfile with its own
	// frontend even when a "# syntax=" line names a frontend image, which
	// would have to be pulled.
	BuiltinFrontend bool

	Args   map[string]string
	Target string
	// Labels are the image's labels; ExtraHosts "host=ip" entries for
	// its RUN steps.
	Labels     map[string]string
	ExtraHosts []string
	// Contexts are named contexts: "context:NAME" values such as
	// "oci-layout://STORE@sha256:..." where STORE is a key of OCIStores.
	Contexts  map[string]string
	OCIStores map[string]content.Store
	Secrets   []Secret
	SSH       []SSH

	// Tag, for a KindEngine client, is the tag the image gets in the
	// engine's image store. Output, for KindAddress, receives the image as
	// a `docker save` tarball.
	Tag    string
	Output func() (io.WriteCloser, error)

	// Log receives the build's progress and output line by line.
	Log func(line string)
}

// Build runs d and returns when the image is in the engine (Tag) or
// written to Output. A failed step's error carries its last output lines.
func (c *Client) Build(ctx context.Context, d Dockerfile) error {
	attrs := map[string]string{"filename": d.Filename}
	if d.Target != "" {
		attrs["target"] = d.Target
	}
	if d.BuiltinFrontend {
		// The frontend forwards to a "# syntax=" image unless it was
		// itself given a command line.
		attrs["cmdline"] = ""
	}
	for k, v := range d.Args {
		attrs["build-arg:"+k] = v
	}
	for k, v := range d.Contexts {
		attrs["context:"+k] = v
	}
	for k, v := range d.Labels {
		attrs["label:"+k] = v
	}
	if len(d.ExtraHosts) > 0 {
		attrs["add-hosts"] = strings.Join(d.ExtraHosts, ",")
	}
	var attach []session.Attachable
	if len(d.Secrets) > 0 {
		var srcs []secretsprovider.Source
		for _, s := range d.Secrets {
			srcs = append(srcs, secretsprovider.Source{ID: s.ID, FilePath: s.File, Env: s.Env})
		}
		store, err := secretsprovider.NewStore(srcs)
		if err != nil {
			return fmt.Errorf("build secrets: %w", err)
		}
		attach = append(attach, secretsprovider.NewSecretProvider(store))
	}
	if len(d.SSH) > 0 {
		var confs []sshprovider.AgentConfig
		for _, s := range d.SSH {
			confs = append(confs, sshprovider.AgentConfig{ID: s.ID, Paths: s.Paths})
		}
		p, err := sshprovider.NewSSHAgentProvider(confs)
		if err != nil {
			return fmt.Errorf("build ssh: %w", err)
		}
		attach = append(attach, p)
	}
	var export bkclient.ExportEntry
	switch c.kind {
	case KindEngine:
		// The engine's exporter, as buildx's docker driver names it: the
		// image goes into the engine's store.
		export = bkclient.ExportEntry{Type: "moby", Attrs: map[string]string{"name": d.Tag}}
	default:
		export = bkclient.ExportEntry{
			Type: bkclient.ExporterDocker,
			// Layer times clamped to SOURCE_DATE_EPOCH (set by the caller),
			// so that a layer's digest depends on its content.
			Attrs:  map[string]string{"rewrite-timestamp": "true"},
			Output: func(map[string]string) (io.WriteCloser, error) { return d.Output() },
		}
	}
	opt := bkclient.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": d.Context, "dockerfile": d.Dockerfile},
		OCIStores:     d.OCIStores,
		Session:       attach,
		Exports:       []bkclient.ExportEntry{export},
	}
	ch := make(chan *bkclient.SolveStatus)
	pl := &progressLog{emit: d.Log, vertices: map[string]*vertex{}}
	var g errgroup.Group
	g.Go(func() error {
		for st := range ch {
			pl.status(st)
		}
		return nil
	})
	_, err := c.c.Solve(ctx, nil, opt, ch)
	g.Wait()
	if err != nil {
		return pl.failure(err)
	}
	return nil
}

// progressLog turns BuildKit's status stream into lines like buildctl's
// plain output ("#3 [build 2/4] RUN go build", "#3 0.512 output..."),
// and keeps each step's last lines for the error of a failed step.
type progressLog struct {
	mu       sync.Mutex
	emit     func(string)
	vertices map[string]*vertex
	order    []string
}

type vertex struct {
	n       int
	name    string
	started bool
	done    bool
	err     string
	tail    []string
	partial string
}

// tailLines is how much of a failed step's output its error carries.
const tailLines = 20

func (p *progressLog) line(s string) {
	if p.emit != nil {
		p.emit(s)
	}
}

func (p *progressLog) status(st *bkclient.SolveStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, v := range st.Vertexes {
		key := v.Digest.String()
		vx := p.vertices[key]
		if vx == nil {
			vx = &vertex{n: len(p.order) + 1, name: v.Name}
			p.vertices[key] = vx
			p.order = append(p.order, key)
		}
		if v.Started != nil && !vx.started {
			vx.started = true
			p.line(fmt.Sprintf("#%d %s", vx.n, vx.name))
		}
		if v.Completed != nil && !vx.done {
			vx.done = true
			switch {
			case v.Error != "":
				vx.err = v.Error
				p.line(fmt.Sprintf("#%d ERROR: %s", vx.n, v.Error))
			case v.Cached:
				p.line(fmt.Sprintf("#%d CACHED", vx.n))
			default:
				p.line(fmt.Sprintf("#%d DONE %.1fs", vx.n, v.Completed.Sub(*v.Started).Seconds()))
			}
		}
	}
	for _, l := range st.Logs {
		vx := p.vertices[l.Vertex.String()]
		if vx == nil {
			continue
		}
		text := vx.partial + string(l.Data)
		lines := strings.Split(text, "\n")
		vx.partial = lines[len(lines)-1]
		for _, s := range lines[:len(lines)-1] {
			s = strings.TrimRight(s, "\r")
			p.line(fmt.Sprintf("#%d %s", vx.n, s))
			vx.tail = append(vx.tail, s)
			if len(vx.tail) > tailLines {
				vx.tail = vx.tail[1:]
			}
		}
	}
	for _, w := range st.Warnings {
		p.line(fmt.Sprintf("WARNING: %s", w.Short))
	}
}

// failure returns err with the name and last output lines of the steps
// that failed.
func (p *progressLog) failure(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	keys := append([]string(nil), p.order...)
	sort.SliceStable(keys, func(i, j int) bool { return p.vertices[keys[i]].n < p.vertices[keys[j]].n })
	for _, k := range keys {
		vx := p.vertices[k]
		if vx.err == "" {
			continue
		}
		tail := vx.tail
		if vx.partial != "" {
			tail = append(tail, vx.partial)
		}
		parts = append(parts, vx.name)
		parts = append(parts, tail...)
	}
	msg := errMessage(err)
	if len(parts) == 0 {
		return errors.New(msg)
	}
	return fmt.Errorf("%s\n%s", msg, strings.Join(parts, "\n"))
}

// errMessage is the error BuildKit returned, without the gRPC wrapping
// ("rpc error: code = Unknown desc = ") that says nothing to a person.
func errMessage(err error) string {
	msg := err.Error()
	for {
		_, rest, ok := strings.Cut(msg, "desc = ")
		if !ok || !strings.HasPrefix(msg, "rpc error:") {
			return msg
		}
		msg = rest
	}
}
