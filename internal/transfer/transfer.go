package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// Media and artifact types of what a snapshot travels as.
const (
	ArtifactSnapshot  = "application/vnd.ladder.snapshot.v1+json"
	MediaStack        = "application/vnd.ladder.stack.v1+yaml"
	ArtifactSignature = "application/vnd.ladder.signature.v1+json"
	ArtifactSBOM      = "application/vnd.cyclonedx+json"
)

// Limits on what Pull reads from a registry into memory.
const (
	maxDocument = 16 << 20
	maxReferrer = 64
)

// Bundle is a snapshot with what deploying it elsewhere needs.
type Bundle struct {
	Snapshot *snapshot.Snapshot
	// Stack is the stack definition the snapshot was made from.
	Stack []byte
	// Signature is the snapshot's signature document; nil when unsigned.
	Signature []byte
	// SBOMs are CycloneDX JSON documents by artifact digest.
	SBOMs map[string][]byte
}

// Options say where a bundle goes or comes from.
type Options struct {
	Builder  *build.Builder
	Registry build.Registry
	// Keychain finds credentials; nil is the user's Docker credentials.
	Keychain authn.Keychain
	// Progress, when set, is told of each step.
	Progress func(step string)
}

func (o Options) keychain() authn.Keychain {
	if o.Keychain == nil {
		return authn.DefaultKeychain
	}
	return o.Keychain
}

func (o Options) say(format string, args ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, args...))
	}
}

func (o Options) remote(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(o.keychain())}
}

func (o Options) nameOpts() []name.Option {
	if o.Registry.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// Ref is where the snapshot's manifest lives: ADDRESS/STACK:ID.
func Ref(address, stack, id string) string {
	repo := build.RegistryRef(address, stack, "x", "sha256:0")
	repo = repo[:strings.LastIndex(repo, "-x@")]
	return repo + ":" + id
}

// Push sends b to the registry and returns the snapshot's reference,
// ADDRESS/STACK:ID@sha256:MANIFEST. Artifacts the registry has are not sent
// again; an artifact altered in the local store is refused.
func Push(ctx context.Context, o Options, b Bundle) (string, error) {
	snap := b.Snapshot
	if err := snap.Verify(); err != nil {
		return "", err
	}
	if len(b.Stack) == 0 {
		return "", fmt.Errorf("snapshot %s: no stack definition to send", snapshot.Short(snap.ID))
	}
	o.say("pushing %d artifacts", len(snap.Artifacts))
	if err := o.Builder.Push(ctx, snap, o.Registry, o.keychain()); err != nil {
		return "", err
	}
	doc, err := json.Marshal(snap)
	if err != nil {
		return "", err
	}
	ref, err := name.NewTag(Ref(o.Registry.Address, snap.Stack, snap.ID), o.nameOpts()...)
	if err != nil {
		return "", fmt.Errorf("snapshot reference: %w", err)
	}
	o.say("pushing snapshot %s", snapshot.Short(snap.ID))
	desc, err := putArtifact(ctx, o, ref.Context(), ref, ArtifactSnapshot, nil,
		layer{doc, ArtifactSnapshot}, layer{b.Stack, MediaStack})
	if err != nil {
		return "", fmt.Errorf("pushing snapshot %s: %w", snapshot.Short(snap.ID), err)
	}
	if b.Signature != nil {
		o.say("attaching the signature")
		if _, err := putArtifact(ctx, o, ref.Context(), nil, ArtifactSignature, desc, layer{b.Signature, ArtifactSignature}); err != nil {
			return "", fmt.Errorf("attaching the signature of %s: %w", snapshot.Short(snap.ID), err)
		}
	}
	for _, svc := range snap.Services() {
		art := snap.Artifacts[svc]
		bom, ok := b.SBOMs[art.Digest]
		if !ok {
			continue
		}
		subject, repo, err := artifactDescriptor(ctx, o, snap, svc)
		if err != nil {
			return "", err
		}
		o.say("attaching the SBOM of %s", svc)
		if _, err := putArtifact(ctx, o, repo, nil, ArtifactSBOM, subject, layer{bom, ArtifactSBOM}); err != nil {
			return "", fmt.Errorf("attaching the SBOM of %s: %w", svc, err)
		}
	}
	return ref.String() + "@" + desc.Digest.String(), nil
}

// Pull brings snapshot id of stack from the registry: its artifacts into
// the artifact store, and the rest into the returned bundle. id must be
// the full snapshot ID: a registry is not asked to resolve prefixes.
func Pull(ctx context.Context, o Options, stack, id string) (*Bundle, error) {
	if !snapshot.ValidID(id) {
		return nil, fmt.Errorf("%q is not a full snapshot ID (64 hex digits): a registry holds snapshots by their full ID", id)
	}
	ref, err := name.NewTag(Ref(o.Registry.Address, stack, id), o.nameOpts()...)
	if err != nil {
		return nil, fmt.Errorf("snapshot reference: %w", err)
	}
	o.say("reading snapshot %s from %s", snapshot.Short(id), ref.Context())
	img, err := remote.Image(ref, o.remote(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s at %s: %w", snapshot.Short(id), ref, err)
	}
	layers, err := readLayers(img)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s at %s: %w", snapshot.Short(id), ref, err)
	}
	var snap snapshot.Snapshot
	if err := json.Unmarshal(layers[ArtifactSnapshot], &snap); err != nil {
		return nil, fmt.Errorf("snapshot %s at %s: the snapshot document: %w", snapshot.Short(id), ref, err)
	}
	if snap.ID != id {
		return nil, fmt.Errorf("the registry's %s holds snapshot %s, not %s", ref, snapshot.Short(snap.ID), snapshot.Short(id))
	}
	if err := snap.Verify(); err != nil {
		return nil, fmt.Errorf("snapshot %s from %s: %w", snapshot.Short(id), ref.Context(), err)
	}
	if snap.Stack != stack {
		return nil, fmt.Errorf("snapshot %s is of stack %q, not %q", snapshot.Short(id), snap.Stack, stack)
	}
	b := &Bundle{Snapshot: &snap, Stack: layers[MediaStack], SBOMs: map[string][]byte{}}
	if len(b.Stack) == 0 {
		return nil, fmt.Errorf("snapshot %s at %s has no stack definition", snapshot.Short(id), ref)
	}
	for _, svc := range snap.Services() {
		art := snap.Artifacts[svc]
		o.say("fetching %s (%s)", svc, snapshot.Short(art.Digest))
		src := build.RegistryRef(o.Registry.Address, snap.Stack, svc, art.Digest)
		if _, err := o.Builder.Fetch(ctx, svc, src, o.Registry, o.keychain()); err != nil {
			return nil, err
		}
	}
	mdigest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	sigs, err := referrers(ctx, o, ref.Context().Digest(mdigest.String()), ArtifactSignature)
	if err != nil {
		return nil, fmt.Errorf("the signature of %s: %w", snapshot.Short(id), err)
	}
	if len(sigs) > 0 {
		b.Signature = sigs[len(sigs)-1]
	}
	for _, svc := range snap.Services() {
		art := snap.Artifacts[svc]
		repo, err := name.NewRepository(strings.SplitN(build.RegistryRef(o.Registry.Address, snap.Stack, svc, art.Digest), "@", 2)[0], o.nameOpts()...)
		if err != nil {
			return nil, err
		}
		boms, err := referrers(ctx, o, repo.Digest(art.Digest), ArtifactSBOM)
		if err != nil {
			return nil, fmt.Errorf("the SBOM of %s: %w", svc, err)
		}
		if len(boms) > 0 {
			b.SBOMs[art.Digest] = boms[len(boms)-1]
		}
	}
	return b, nil
}

// layer is one blob of an artifact manifest.
type layer struct {
	data      []byte
	mediaType string
}

// rawManifest is a manifest to PUT as it is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// emptyConfig is the OCI empty descriptor's content: artifacts that are
// not images have it as their config.
var emptyConfig = []byte("{}")

// putArtifact uploads the layers and an OCI manifest of artifactType over
// them (with subject, when set, making it a referrer of subject) to repo,
// under tag when set and by digest otherwise, and returns its descriptor.
func putArtifact(ctx context.Context, o Options, repo name.Repository, tag name.Reference, artifactType string, subject *v1.Descriptor, layers ...layer) (*v1.Descriptor, error) {
	ropts := o.remote(ctx)
	cfg := static.NewLayer(emptyConfig, types.OCIEmptyJSON)
	if err := remote.WriteLayer(repo, cfg, ropts...); err != nil {
		return nil, err
	}
	cfgDigest, _ := cfg.Digest()
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  artifactType,
		Config:        v1.Descriptor{MediaType: types.OCIEmptyJSON, Digest: cfgDigest, Size: int64(len(emptyConfig))},
		Subject:       subject,
	}
	for _, l := range layers {
		sl := static.NewLayer(l.data, types.MediaType(l.mediaType))
		if err := remote.WriteLayer(repo, sl, ropts...); err != nil {
			return nil, err
		}
		d, _ := sl.Digest()
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.MediaType(l.mediaType), Digest: d, Size: int64(len(l.data))})
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	h, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if tag == nil {
		tag = repo.Digest(h.String())
	}
	if err := remote.Put(tag, rawManifest{raw, types.OCIManifestSchema1}, ropts...); err != nil {
		return nil, err
	}
	return &v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: size, ArtifactType: artifactType}, nil
}

// artifactDescriptor is the descriptor of service's artifact as pushed,
// and the repository it was pushed to.
func artifactDescriptor(ctx context.Context, o Options, snap *snapshot.Snapshot, svc string) (*v1.Descriptor, name.Repository, error) {
	art := snap.Artifacts[svc]
	ref, err := name.NewDigest(build.RegistryRef(o.Registry.Address, snap.Stack, svc, art.Digest), o.nameOpts()...)
	if err != nil {
		return nil, name.Repository{}, err
	}
	d, err := remote.Head(ref, o.remote(ctx)...)
	if err != nil {
		return nil, name.Repository{}, fmt.Errorf("service %s: %w", svc, err)
	}
	return d, ref.Context(), nil
}

// readLayers reads an artifact's layers by media type, each bounded.
func readLayers(img v1.Image) (map[string][]byte, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if len(m.Layers) > 8 {
		return nil, fmt.Errorf("an artifact of %d layers is not one ladder wrote", len(m.Layers))
	}
	out := map[string][]byte{}
	for _, d := range m.Layers {
		if d.Size > maxDocument {
			return nil, fmt.Errorf("layer %s is %d bytes, more than the %d a ladder document may be", d.Digest, d.Size, maxDocument)
		}
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxDocument+1))
		rc.Close()
		if err != nil {
			return nil, err
		}
		if h, _, _ := v1.SHA256(bytes.NewReader(data)); h != d.Digest {
			return nil, fmt.Errorf("layer %s: %w", d.Digest, build.ErrBlobAltered)
		}
		out[string(d.MediaType)] = data
	}
	return out, nil
}

// referrers reads the documents of artifactType that refer to subject, in
// the order the registry lists them (the fallback tag's index appends).
func referrers(ctx context.Context, o Options, subject name.Digest, artifactType string) ([][]byte, error) {
	// A registry without the referrers API answers from the fallback
	// tag, and with an empty index when nothing refers to subject.
	idx, err := remote.Referrers(subject, o.remote(ctx)...)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var descs []v1.Descriptor
	for _, d := range im.Manifests {
		if d.ArtifactType == artifactType {
			descs = append(descs, d)
		}
	}
	if len(descs) > maxReferrer {
		return nil, fmt.Errorf("%d referrers of type %s: more than ladder reads", len(descs), artifactType)
	}
	var out [][]byte
	for _, d := range descs {
		img, err := remote.Image(subject.Context().Digest(d.Digest.String()), o.remote(ctx)...)
		if err != nil {
			return nil, err
		}
		layers, err := readLayers(img)
		if err != nil {
			return nil, err
		}
		if data, ok := layers[artifactType]; ok {
			out = append(out, data)
		}
	}
	return out, nil
}
