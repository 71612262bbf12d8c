package build

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/singleflight"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// Pull policies: Compose's pull_policy, and `ladder up --pull`.
const (
	// PullMissing takes the image from the artifact store when the tag was
	// pinned before, else from the engine when it has it, else from the
	// registry. The default.
	PullMissing = "missing"
	// PullAlways resolves the tag at the registry every time.
	PullAlways = "always"
	// PullNever uses the artifact store or the engine, never a registry.
	PullNever = "never"
)

// PullPolicies are the values --pull accepts.
var PullPolicies = []string{PullAlways, PullMissing, PullNever}

// Builder names of pinned images in snapshot.Artifact.Builder: where the
// image's bytes came from.
const (
	builderRegistry = "registry"
	builderEngine   = "engine"
	// SourceShared is the Source of an engine's image that another
	// project on this machine copied already (see Options.Shared).
	SourceShared = "machine's shared store"
)

// Progress states of an image service.
const (
	StatePulling = "pulling"
	StatePulled  = "pulled"
)

// imageInputsPrefix marks the Inputs of a pinned image: the artifact is
// looked up by service and "image:" plus the tag's full name, so the tag's
// last resolution is found without any network.
const imageInputsPrefix = "image:"

// ImageEngine is the part of the Docker Engine API that pinning uses to
// take images the engine already has; *client.Client satisfies it.
type ImageEngine interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageSave(ctx context.Context, images []string, opts ...client.ImageSaveOption) (io.ReadCloser, error)
}

var _ ImageEngine = (*client.Client)(nil)

// PinOptions configure Pin.
type PinOptions struct {
	// Pull overrides every service's pull_policy: PullAlways, PullMissing
	// or PullNever. Empty follows each service's pull_policy.
	Pull string
	// Engine, when set, provides images it already has and tells when a
	// tag moved there. Nil means registries only.
	Engine ImageEngine
	// Keychain finds registry credentials; nil is the user's Docker
	// credentials (authn.DefaultKeychain: ~/.docker/config.json and its
	// credential helpers).
	Keychain authn.Keychain
	// CheckRegistry asks the registry where each pinned tag points now,
	// to report moved tags (see Report.Moved) under PullMissing and
	// PullNever; it never changes what is pinned. Failures (offline) are
	// ignored, and the checks take at most CheckTimeout (default 3s).
	CheckRegistry bool
	CheckTimeout  time.Duration
	// Platform is the platform picked from multi-platform images
	// (default linux and this machine's architecture).
	Platform *v1.Platform
}

// MovedTag is a tag that points at another image than the one pinned
// for it the last time.
type MovedTag struct {
	Service string `json:"service"`
	Tag     string `json:"tag"`
	// Pinned is the artifact the tag was pinned to before; Now is what
	// the tag points at now: the registry's digest for it (a manifest or
	// a multi-platform index), or the engine's image ID.
	Pinned string `json:"pinned"`
	Now    string `json:"now"`
	// Where says where the tag moved: "registry" or "engine".
	Where string `json:"where"`
	// Followed is true under PullAlways: the new snapshot takes the new
	// image. Otherwise the snapshot keeps Pinned.
	Followed bool `json:"followed"`
}

// ImageError is a problem with a service's image that its user fixes: the
// image is not found, the registry refuses the credentials, or the pull
// policy forbids getting it.
type ImageError struct {
	Service, Image string
	// Reason is ReasonNotFound, ReasonUnauthorized or ReasonAbsent.
	Reason string
	Err    error
	// Hint says what to do.
	Hint string
}

// ImageError reasons.
const (
	ReasonNotFound     = "not found"
	ReasonUnauthorized = "unauthorized"
	ReasonAbsent       = "absent"
)

func (e *ImageError) Error() string {
	msg := fmt.Sprintf("service %q: image %s: %s", e.Service, e.Image, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ImageError) Unwrap() error { return e.Err }

// ImageServices returns the services that run an image ladder does not
// build (Compose `image:` without `build:`), sorted.
func ImageServices(stack *spec.Stack) []string {
	if stack == nil || stack.Compose == nil {
		return nil
	}
	var names []string
	for name, svc := range stack.Compose.Services {
		if svc.Build == nil && svc.Image != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// PullPolicy maps a Compose pull_policy to the policy ladder follows.
// Compose's refresh intervals (daily, weekly, every_12h) are followed as
// missing: a snapshot is pinned, so refreshing is asked for with --pull
// always. "build" has no meaning without a build section and is missing
// too.
func PullPolicy(composePolicy string) (string, error) {
	switch p := strings.ToLower(composePolicy); {
	case p == "", p == "missing", p == "if_not_present", p == "build",
		p == "daily", p == "weekly", strings.HasPrefix(p, "every_"):
		return PullMissing, nil
	case p == "always":
		return PullAlways, nil
	case p == "never":
		return PullNever, nil
	default:
		return "", fmt.Errorf("unknown pull policy %q: want always, missing or never", composePolicy)
	}
}

// Pin resolves the image of every image service to a digest, copies it
// into the artifact store (verifying every blob against its digest) and
// returns its artifact: Digest is the stored manifest, Image pins the
// repository to it, Inputs records the tag. Services with a build section
// are left to Build. The report lists the services taken from the store
// as Cached, those copied now as Pulled, and moved tags. Every failing
// service's error is returned together.
func (b *Builder) Pin(ctx context.Context, stack *spec.Stack, opts PinOptions) (map[string]snapshot.Artifact, *Report, error) {
	start := time.Now()
	report := &Report{}
	arts := map[string]snapshot.Artifact{}
	names := ImageServices(stack)
	if len(names) == 0 {
		return arts, report, nil
	}
	if b.opts.Store == nil || b.opts.Dir == "" {
		return arts, report, errors.New("pin: Options.Store and Options.Dir are required")
	}
	if opts.Keychain == nil {
		opts.Keychain = authn.DefaultKeychain
	}
	if opts.Platform == nil {
		opts.Platform = &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = 3 * time.Second
	}
	// The registry checks run beside the pinning and whatever the caller
	// does next (a deploy), bounded as a whole: a slow or unreachable
	// registry delays Report.WaitMoved by at most CheckTimeout.
	// They outlive ctx, which callers often end when Pin returns; the
	// bound and WaitMoved end them.
	checkCtx, cancelChecks := context.WithTimeout(context.WithoutCancel(ctx), opts.CheckTimeout)

	type result struct {
		art    snapshot.Artifact
		pulled bool
		moved  *MovedTag
		check  func() *MovedTag
		err    error
	}
	tags := b.openTags()
	// Services that run one image (a queue and a job on one base) copy it
	// once: the second waits for the first's copy.
	var copies singleflight.Group
	results := make([]result, len(names))
	sem := make(chan struct{}, max(b.opts.Parallel, 4))
	var wg sync.WaitGroup
	for i, svcName := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := &results[i]
			r.art, r.pulled, r.moved, r.check, r.err = b.pinOne(ctx, checkCtx, tags, &copies, svcName, stack.Compose.Services[svcName].Image, stack.Compose.Services[svcName].PullPolicy, opts)
		}()
	}
	wg.Wait()
	errs := map[string]error{}
	for i, svcName := range names {
		r := results[i]
		if r.err != nil {
			errs[svcName] = r.err
			continue
		}
		arts[svcName] = r.art
		if r.pulled {
			report.Pulled = append(report.Pulled, svcName)
		} else {
			report.Cached = append(report.Cached, svcName)
		}
		if r.moved != nil {
			report.Moved = append(report.Moved, *r.moved)
		} else if r.check != nil {
			report.pending = append(report.pending, r.check)
		}
	}
	report.cancel = cancelChecks
	// A record that cannot be saved costs later checks their fast path
	// only.
	_ = tags.save()
	report.BuildTime = time.Since(start)
	return arts, report, joinSorted(errs)
}

// pinOne pins one service's image. check, when not nil, waits for the
// registry's answer on where the tag points now. copies shares the copy
// of one image between the services that run it.
func (b *Builder) pinOne(ctx, checkCtx context.Context, tags *tagRecord, copies *singleflight.Group, svcName, ref, composePolicy string, opts PinOptions) (art snapshot.Artifact, pulled bool, moved *MovedTag, check func() *MovedTag, err error) {
	begin := time.Now()
	fail := func(err error) (snapshot.Artifact, bool, *MovedTag, func() *MovedTag, error) {
		b.emit(Progress{Service: svcName, State: StateFailed, Image: ref, Duration: time.Since(begin), Err: err})
		return snapshot.Artifact{}, false, nil, nil, err
	}
	policy := opts.Pull
	if policy == "" {
		if policy, err = PullPolicy(composePolicy); err != nil {
			return fail(fmt.Errorf("service %q: %w", svcName, err))
		}
	}
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return fail(fmt.Errorf("service %q: image %q is not a valid image reference: %w", svcName, ref, err))
	}
	b.emit(Progress{Service: svcName, State: StateChecking, Image: ref})
	inputs := imageInputsPrefix + parsed.Name()
	repo := parsed.Context().Name()
	source := "" // where a fetched copy came from, when not from where builder says
	done := func(digest string, size int64, builder string, fetched bool) (snapshot.Artifact, bool, *MovedTag, func() *MovedTag, error) {
		a := snapshot.Artifact{Service: svcName, Digest: digest, Builder: builder, Inputs: inputs, Size: size, Image: repo + "@" + digest}
		if fetched {
			if err := b.opts.Store.PutArtifact(ctx, a); err != nil {
				return fail(fmt.Errorf("service %q: recording the artifact: %w", svcName, err))
			}
			b.emit(Progress{Service: svcName, State: StatePulled, Image: ref, Duration: time.Since(begin), Size: size, Digest: digest, Source: cmp.Or(source, builder)})
		} else {
			b.emit(Progress{Service: svcName, State: StateCached, Image: ref, Duration: time.Since(begin), Size: size, Digest: digest})
		}
		return a, fetched, moved, check, nil
	}

	// A reference by digest is pinned already; only its bytes may be
	// missing, and only a registry has them as they are named.
	if d, ok := parsed.(name.Digest); ok {
		want := d.DigestStr()
		if size, ok := b.stored(want); ok {
			return done(want, size, builderRegistry, false)
		}
		if policy == PullNever {
			return fail(absent(svcName, ref, "the artifact store"))
		}
		digest, size, err := b.pullRemote(ctx, svcName, ref, parsed, opts)
		if err != nil {
			return fail(err)
		}
		return done(digest, size, builderRegistry, true)
	}

	prev, perr := b.opts.Store.LookupArtifact(ctx, svcName, inputs)
	havePrev := false
	if perr == nil {
		_, havePrev = b.stored(prev.Digest)
	} else if !errors.Is(perr, store.ErrNotFound) {
		return fail(fmt.Errorf("service %q: looking up the pinned image: %w", svcName, perr))
	}
	engineID, engineRepoDigest := "", ""
	if opts.Engine != nil {
		// An engine that lacks the tag, or does not answer, is no
		// source; the registry still is.
		if info, err := opts.Engine.ImageInspect(ctx, ref); err == nil {
			engineID, engineRepoDigest = info.ID, repoDigest(parsed.String(), info.RepoDigests)
		}
	}

	if policy != PullAlways && havePrev {
		cfg := b.configDigest(prev.Digest)
		if engineID != "" && cfg != "" && engineID != cfg {
			moved = &MovedTag{Service: svcName, Tag: ref, Pinned: prev.Digest, Now: engineID, Where: "engine"}
		} else if opts.CheckRegistry {
			check = b.checkRemote(checkCtx, svcName, ref, parsed, prev.Digest, tags.get(inputs), prev.Builder == builderRegistry, opts)
		}
		return done(prev.Digest, prev.Size, prev.Builder, false)
	}

	if policy != PullAlways && engineID != "" {
		b.emit(Progress{Service: svcName, State: StatePulling, Image: ref, Source: builderEngine})
		v, err, _ := copies.Do("engine "+engineID, func() (any, error) {
			digest, size, shared, err := b.importFromEngine(ctx, opts.Engine, svcName, ref, engineID)
			return copied{digest, size, shared}, err
		})
		if err != nil {
			return fail(fmt.Errorf("service %q: copying image %s from the Docker engine: %w", svcName, ref, err))
		}
		digest, size := v.(copied).digest, v.(copied).size
		if v.(copied).shared {
			source = SourceShared
		}
		tags.set(inputs, engineRepoDigest)
		return done(digest, size, builderEngine, true)
	}
	if policy == PullNever {
		return fail(absent(svcName, ref, "the artifact store nor the Docker engine"))
	}
	desc, err := remote.Get(parsed, remoteOptions(ctx, opts)...)
	if err != nil {
		return fail(b.registryErr(svcName, ref, err))
	}
	img, err := desc.Image()
	if err != nil {
		return fail(b.registryErr(svcName, ref, err))
	}
	digest, err := img.Digest()
	if err != nil {
		return fail(b.registryErr(svcName, ref, err))
	}
	tags.set(inputs, desc.Digest.String())
	if havePrev {
		if cfg, now := b.configDigest(prev.Digest), configName(img); cfg != "" && now != "" && cfg != now {
			moved = &MovedTag{Service: svcName, Tag: ref, Pinned: prev.Digest, Now: now, Where: "registry", Followed: true}
		}
	}
	if size, ok := b.stored(digest.String()); ok {
		return done(digest.String(), size, builderRegistry, false)
	}
	v, err, _ := copies.Do("registry "+digest.String(), func() (any, error) {
		d, size, err := b.copyIn(ctx, img, svcName, ref, builderRegistry)
		return copied{d, size, false}, err
	})
	if err != nil {
		return fail(b.registryErr(svcName, ref, err))
	}
	return done(v.(copied).digest, v.(copied).size, builderRegistry, true)
}

// copied is an image copied into the store, as copies shares it.
type copied struct {
	digest string
	size   int64
	shared bool // the engine's image, from the shared store (see shared.go)
}

// WaitMoved waits for the registry checks Pin started (see
// PinOptions.CheckRegistry), adds the tags they found moved to Moved, and
// returns Moved. Pin returns before the checks end so that they overlap
// with what the caller does next; a caller that reports moved tags calls
// WaitMoved first. It is not safe for concurrent use.
func (r *Report) WaitMoved() []MovedTag {
	for _, check := range r.pending {
		if m := check(); m != nil {
			r.Moved = append(r.Moved, *m)
		}
	}
	r.pending = nil
	if r.cancel != nil {
		r.cancel()
		r.cancel = nil
	}
	return r.Moved
}

// AddPinned merges the report of Pin into r (a Build report): the pinned
// images count as cached, and the pulled ones, moved tags and pending
// checks are taken over.
func (r *Report) AddPinned(p *Report) {
	r.Cached = append(r.Cached, p.Cached...)
	sort.Strings(r.Cached)
	r.Pulled = append(r.Pulled, p.Pulled...)
	r.Moved = append(r.Moved, p.Moved...)
	r.pending = append(r.pending, p.pending...)
	if p.cancel != nil {
		prev := r.cancel
		r.cancel = func() {
			p.cancel()
			if prev != nil {
				prev()
			}
		}
	}
}

func absent(svcName, ref, where string) *ImageError {
	return &ImageError{Service: svcName, Image: ref, Reason: ReasonAbsent,
		Err:  fmt.Errorf("it is in neither %s, and the pull policy is never", where),
		Hint: fmt.Sprintf("docker pull %s (or ladder up --pull missing)", ref)}
}

// checkRemote starts asking the registry where ref points now (one HEAD
// request) and returns a func that waits for the answer: a MovedTag when
// the tag no longer serves what it served when it was pinned (recorded,
// the index's digest for a multi-platform image; else the pinned manifest
// itself, for an image pinned from the registry), nil otherwise, and nil on
// any failure: the check only informs.
func (b *Builder) checkRemote(ctx context.Context, svcName, ref string, parsed name.Reference, pinned, recorded string, fromRegistry bool, opts PinOptions) func() *MovedTag {
	ch := make(chan *MovedTag, 1)
	go func() {
		desc, err := remote.Head(parsed, remoteOptions(ctx, opts)...)
		switch {
		case err != nil:
			ch <- nil
		case recorded != "" && desc.Digest.String() != recorded,
			recorded == "" && fromRegistry && desc.Digest.String() != pinned && !desc.MediaType.IsIndex():
			ch <- &MovedTag{Service: svcName, Tag: ref, Pinned: pinned, Now: desc.Digest.String(), Where: "registry"}
		default:
			ch <- nil
		}
	}()
	return func() *MovedTag { return <-ch }
}

func configName(img v1.Image) string {
	m, err := img.Manifest()
	if err != nil {
		return ""
	}
	return m.Config.Digest.String()
}

// configDigest returns the config digest of a stored image (what the
// engine calls its image ID), or "".
func (b *Builder) configDigest(digest string) string {
	img, err := b.Image(digest)
	if err != nil {
		return ""
	}
	return configName(img)
}
