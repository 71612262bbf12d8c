package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/registrytest"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

var anonymous = authn.NewMultiKeychain()

func newBuilder(t *testing.T) *build.Builder {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return build.New(build.Options{Store: st, Dir: filepath.Join(dir, "artifacts")})
}

// fixture is a snapshot of two image services whose artifacts are in b's
// store, taken from a source registry as a pin would.
func fixture(t *testing.T, b *build.Builder) *snapshot.Snapshot {
	t.Helper()
	ctx := context.Background()
	src := registrytest.Start(t, nil)
	arts := map[string]snapshot.Artifact{}
	for _, svc := range []string{"web", "db"} {
		tag := src.Addr + "/src/" + svc
		ref := tag + "@" + registrytest.Push(t, registrytest.Image(t, map[string]string{"www/v": svc + time.Now().String()}), tag+":1", nil)
		d, err := b.Fetch(ctx, svc, ref, build.Registry{Address: src.Addr}, anonymous)
		if err != nil {
			t.Fatalf("fetching %s into the store: %v", svc, err)
		}
		img, err := b.Image(d)
		if err != nil {
			t.Fatal(err)
		}
		size, _ := img.Size()
		arts[svc] = snapshot.Artifact{Service: svc, Digest: d, Builder: "registry", Inputs: ref, Size: size, Image: ref}
	}
	return snapshot.New("shop", strings.Repeat("5", 64), arts, "", time.Unix(1700000000, 0).UTC())
}

// TestPushThenPullElsewhere: a snapshot pushed from one store is pulled
// into another with its artifacts, stack definition, signature and SBOMs,
// and the signature and SBOMs are OCI referrers that generic tools list.
func TestPushThenPullElsewhere(t *testing.T) {
	ctx := context.Background()
	here := newBuilder(t)
	snap := fixture(t, here)
	dst := registrytest.Start(t, nil)
	reg := build.Registry{Address: dst.Addr + "/team"}
	stack := []byte("name: shop\nservices:\n  web:\n    image: web\n")
	sig := []byte(`{"snapshot": "` + snap.ID + `", "signature": "MEUCIQ"}`)
	bom := []byte(`{"bomFormat": "CycloneDX", "specVersion": "1.5"}`)
	var steps []string
	ref, err := Push(ctx, Options{Builder: here, Registry: reg, Keychain: anonymous, Progress: func(s string) { steps = append(steps, s) }},
		Bundle{Snapshot: snap, Stack: stack, Signature: sig, SBOMs: map[string][]byte{snap.Artifacts["db"].Digest: bom}})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if want := dst.Addr + "/team/shop:" + snap.ID + "@sha256:"; !strings.HasPrefix(ref, want) {
		t.Errorf("Push answered %s, want %s…", ref, want)
	}
	if len(steps) == 0 {
		t.Error("Push reported no progress")
	}

	// The signature is a referrer of the snapshot manifest, as cosign's
	// and ORAS's attachments are.
	d, err := name.NewDigest(strings.Replace(ref, ":"+snap.ID+"@", "@", 1))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Referrers(d)
	if err != nil {
		t.Fatalf("listing referrers: %v", err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].ArtifactType != ArtifactSignature {
		t.Errorf("referrers of the snapshot: %+v, want one %s", im.Manifests, ArtifactSignature)
	}

	there := newBuilder(t)
	got, err := Pull(ctx, Options{Builder: there, Registry: reg, Keychain: anonymous}, "shop", snap.ID)
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if got.Snapshot.ID != snap.ID || !bytes.Equal(got.Stack, stack) || !bytes.Equal(got.Signature, sig) {
		t.Errorf("pulled %s, stack %q, signature %q", got.Snapshot.ID, got.Stack, got.Signature)
	}
	if !bytes.Equal(got.SBOMs[snap.Artifacts["db"].Digest], bom) || len(got.SBOMs) != 1 {
		t.Errorf("pulled SBOMs %v, want db's only", got.SBOMs)
	}
	for svc, art := range snap.Artifacts {
		img, err := there.Image(art.Digest)
		if err != nil {
			t.Fatalf("%s is not in the other store after Pull: %v", svc, err)
		}
		if d, _ := img.Digest(); d.String() != art.Digest {
			t.Errorf("%s: stored %s, want %s", svc, d, art.Digest)
		}
	}

	// A snapshot the registry does not have is an error.
	if _, err := Pull(ctx, Options{Builder: newBuilder(t), Registry: reg, Keychain: anonymous}, "shop", strings.Repeat("0", 64)); err == nil {
		t.Error("pulling a snapshot the registry does not have succeeded")
	}
}

// TestPullRefusesWhatDoesNotAddUp: a snapshot document whose content does
// not hash to its ID, or that is not the one asked for, is refused.
func TestPullRefusesWhatDoesNotAddUp(t *testing.T) {
	ctx := context.Background()
	here := newBuilder(t)
	snap := fixture(t, here)
	dst := registrytest.Start(t, nil)
	o := Options{Builder: here, Registry: build.Registry{Address: dst.Addr}, Keychain: anonymous}

	forge := func(id string, doc *snapshot.Snapshot) {
		raw, _ := json.Marshal(doc)
		tag, err := name.NewTag(Ref(dst.Addr, "shop", id))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := putArtifact(ctx, o, tag.Context(), tag, ArtifactSnapshot, nil, layer{raw, ArtifactSnapshot}, layer{[]byte("name: shop\n"), MediaStack}); err != nil {
			t.Fatal(err)
		}
	}
	// The same ID over other artifacts: the ID no longer adds up.
	altered := *snap
	altered.Artifacts = map[string]snapshot.Artifact{"web": snap.Artifacts["db"]}
	forge(snap.ID, &altered)
	if _, err := Pull(ctx, Options{Builder: newBuilder(t), Registry: o.Registry, Keychain: anonymous}, "shop", snap.ID); err == nil {
		t.Error("a snapshot whose artifacts were swapped was pulled")
	}
	// A genuine snapshot under another snapshot's tag.
	other := strings.Repeat("ab", 32)
	forge(other, snap)
	if _, err := Pull(ctx, Options{Builder: newBuilder(t), Registry: o.Registry, Keychain: anonymous}, "shop", other); err == nil || !strings.Contains(err.Error(), "not "+snapshot.Short(other)) {
		t.Errorf("a snapshot under another's tag: %v, want it refused", err)
	}
	if _, err := Pull(ctx, o, "shop", snap.ID[:12]); err == nil || !strings.Contains(err.Error(), "full snapshot ID") {
		t.Errorf("a prefix: %v, want it refused", err)
	}
}
