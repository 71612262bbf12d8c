package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ladderhq/ladder/internal/registrytest"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
)

// imageStack is a stack of image services: service name -> image, and
// optionally "name/pull_policy".
func imageStack(images map[string]string, policies map[string]string) *spec.Stack {
	p := &types.Project{Name: "pins", Services: types.Services{}}
	for svc, ref := range images {
		sc := types.ServiceConfig{Name: svc}
		sc.Image, sc.PullPolicy = ref, policies[svc]
		p.Services[svc] = sc
	}
	return &spec.Stack{Name: "pins", Compose: p}
}

func newPinBuilder(t *testing.T) (*Builder, *fakeStore) {
	st := newFakeStore()
	return New(Options{Store: st, Dir: filepath.Join(t.TempDir(), "artifacts")}), st
}

// anonymous is a keychain with no credentials, so tests never read the
// machine's Docker config.
var anonymous = authn.NewMultiKeychain()

type basicKeychain struct{ user, password string }

func (k basicKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.password}, nil
}

func pin(t *testing.T, b *Builder, stack *spec.Stack, opts PinOptions) (map[string]snapshot.Artifact, *Report, error) {
	t.Helper()
	if opts.Keychain == nil {
		opts.Keychain = anonymous
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return b.Pin(ctx, stack, opts)
}

func TestPinRecordsTheRegistryDigestAndNeverResolvesAgain(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := reg.Addr + "/shop/db:15"
	want := registrytest.Push(t, registrytest.Image(t, map[string]string{"www/v": "1"}), ref, nil)
	b, st := newPinBuilder(t)
	stack := imageStack(map[string]string{"db": ref}, nil)

	arts, rep, err := pin(t, b, stack, PinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := arts["db"]
	if a.Digest != want || a.Image != reg.Addr+"/shop/db@"+want || a.Inputs != "image:"+ref || a.Builder != builderRegistry {
		t.Fatalf("artifact %+v, want digest %s pinned as %s/shop/db@...", a, want, reg.Addr)
	}
	if fmt.Sprint(rep.Pulled) != "[db]" || len(rep.Cached) != 0 {
		t.Errorf("report pulled %v cached %v, want db pulled", rep.Pulled, rep.Cached)
	}
	if _, err := b.Image(want); err != nil {
		t.Fatalf("the pinned image is not in the artifact store: %v", err)
	}
	if stored, _ := st.LookupArtifact(context.Background(), "db", "image:"+ref); stored.Digest != want {
		t.Errorf("store records %q for the tag, want %s", stored.Digest, want)
	}

	// With the registry gone, the pinned tag still resolves: from the store.
	reg.Close()
	arts, rep, err = pin(t, b, stack, PinOptions{})
	if err != nil {
		t.Fatalf("pinning again without the registry: %v", err)
	}
	if arts["db"].Digest != want || fmt.Sprint(rep.Cached) != "[db]" || len(rep.Pulled) != 0 {
		t.Errorf("second pin: %+v cached %v pulled %v", arts["db"], rep.Cached, rep.Pulled)
	}
}

func TestPinReportsAMovedTagAndFollowsItOnlyWhenAskedToPullAlways(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := reg.Addr + "/shop/cache:7"
	first := registrytest.Push(t, registrytest.Image(t, map[string]string{"www/v": "1"}), ref, nil)
	b, _ := newPinBuilder(t)
	stack := imageStack(map[string]string{"cache": ref}, nil)
	if _, _, err := pin(t, b, stack, PinOptions{}); err != nil {
		t.Fatal(err)
	}
	second := registrytest.Push(t, registrytest.Image(t, map[string]string{"www/v": "2"}), ref, nil)

	arts, rep, err := pin(t, b, stack, PinOptions{CheckRegistry: true})
	if err != nil {
		t.Fatal(err)
	}
	rep.WaitMoved()
	if arts["cache"].Digest != first {
		t.Errorf("missing policy followed the moved tag: %s, want the pinned %s", arts["cache"].Digest, first)
	}
	if len(rep.Moved) != 1 || rep.Moved[0].Where != "registry" || rep.Moved[0].Followed || rep.Moved[0].Pinned != first {
		t.Fatalf("moved %+v, want the tag reported as moved in the registry, not followed", rep.Moved)
	}

	arts, rep, err = pin(t, b, stack, PinOptions{Pull: PullAlways})
	if err != nil {
		t.Fatal(err)
	}
	if arts["cache"].Digest != second {
		t.Errorf("pull always pinned %s, want the tag's new image %s", arts["cache"].Digest, second)
	}
	if len(rep.Moved) != 1 || !rep.Moved[0].Followed {
		t.Errorf("moved %+v, want the move reported as followed", rep.Moved)
	}
	// The tag now resolves to the second image without the registry.
	arts, _, err = pin(t, b, stack, PinOptions{Pull: PullNever})
	if err != nil || arts["cache"].Digest != second {
		t.Errorf("never after always: %v %v", arts["cache"].Digest, err)
	}
}

func TestPinPullPolicies(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ref := reg.Addr + "/shop/api:1"
	want := registrytest.Push(t, registrytest.Image(t, map[string]string{"www/v": "api"}), ref, nil)

	t.Run("never fails when the image is absent, naming it and how to get it", func(t *testing.T) {
		b, _ := newPinBuilder(t)
		_, _, err := pin(t, b, imageStack(map[string]string{"api": ref}, map[string]string{"api": "never"}), PinOptions{})
		var ie *ImageError
		if !errors.As(err, &ie) || ie.Reason != ReasonAbsent || ie.Image != ref || !strings.Contains(ie.Hint, "docker pull "+ref) {
			t.Fatalf("err %v (%#v), want an absent ImageError naming %s with a docker pull hint", err, ie, ref)
		}
	})
	t.Run("--pull never overrides pull_policy", func(t *testing.T) {
		b, _ := newPinBuilder(t)
		_, _, err := pin(t, b, imageStack(map[string]string{"api": ref}, map[string]string{"api": "always"}), PinOptions{Pull: PullNever})
		var ie *ImageError
		if !errors.As(err, &ie) || ie.Reason != ReasonAbsent {
			t.Fatalf("err %v, want absent", err)
		}
	})
	t.Run("missing pulls once, then uses the store", func(t *testing.T) {
		b, _ := newPinBuilder(t)
		stack := imageStack(map[string]string{"api": ref}, map[string]string{"api": "if_not_present"})
		_, rep, err := pin(t, b, stack, PinOptions{})
		if err != nil || fmt.Sprint(rep.Pulled) != "[api]" {
			t.Fatalf("first: %v pulled %v", err, rep.Pulled)
		}
		arts, rep, err := pin(t, b, stack, PinOptions{Pull: PullNever})
		if err != nil || arts["api"].Digest != want || fmt.Sprint(rep.Cached) != "[api]" {
			t.Fatalf("never after missing: %v %+v", err, rep)
		}
	})
	t.Run("always resolves the tag every time", func(t *testing.T) {
		b, _ := newPinBuilder(t)
		stack := imageStack(map[string]string{"api": ref}, map[string]string{"api": "always"})
		if _, _, err := pin(t, b, stack, PinOptions{}); err != nil {
			t.Fatal(err)
		}
		next := registrytest.Push(t, registrytest.Image(t, map[string]string{"www/v": "api2"}), ref, nil)
		arts, _, err := pin(t, b, stack, PinOptions{})
		if err != nil || arts["api"].Digest != next {
			t.Fatalf("pull_policy always kept %s (%v), want %s", arts["api"].Digest, err, next)
		}
	})
	t.Run("an unknown pull_policy is refused", func(t *testing.T) {
		b, _ := newPinBuilder(t)
		_, _, err := pin(t, b, imageStack(map[string]string{"api": ref}, map[string]string{"api": "sometimes"}), PinOptions{})
		if err == nil || !strings.Contains(err.Error(), `"sometimes"`) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestPinByDigest(t *testing.T) {
	reg := registrytest.Start(t, nil)
	want := registrytest.Push(t, registrytest.Image(t, map[string]string{"www/v": "d"}), reg.Addr+"/shop/d:x", nil)
	b, _ := newPinBuilder(t)
	ref := reg.Addr + "/shop/d@" + want
	arts, _, err := pin(t, b, imageStack(map[string]string{"d": ref}, nil), PinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if arts["d"].Digest != want || arts["d"].Image != ref {
		t.Errorf("artifact %+v, want %s", arts["d"], ref)
	}
}

func TestPinImageNotFoundNamesTheImage(t *testing.T) {
	reg := registrytest.Start(t, nil)
	registrytest.Push(t, registrytest.Image(t, nil), reg.Addr+"/shop/there:1", nil)
	b, _ := newPinBuilder(t)
	for _, ref := range []string{reg.Addr + "/shop/there:2", reg.Addr + "/shop/nowhere:1"} {
		_, _, err := pin(t, b, imageStack(map[string]string{"x": ref}, nil), PinOptions{})
		var ie *ImageError
		if !errors.As(err, &ie) || ie.Reason != ReasonNotFound || !strings.Contains(err.Error(), ref) {
			t.Errorf("%s: err %v, want a not-found ImageError naming it", ref, err)
		}
	}
}

func TestPinUnauthorizedSaysToLogIn(t *testing.T) {
	auth := &registrytest.Auth{User: "ladder", Password: "s3cret-pass"}
	reg := registrytest.Start(t, auth)
	ref := reg.Addr + "/private/app:1"
	want := registrytest.Push(t, registrytest.Image(t, nil), ref, auth)
	b, _ := newPinBuilder(t)
	stack := imageStack(map[string]string{"app": ref}, nil)
	_, _, err := pin(t, b, stack, PinOptions{})
	var ie *ImageError
	if !errors.As(err, &ie) || ie.Reason != ReasonUnauthorized || !strings.Contains(ie.Hint, "docker login "+reg.Addr) {
		t.Fatalf("err %v (%#v), want an unauthorized ImageError with a docker login hint", err, ie)
	}
	if strings.Contains(err.Error(), auth.Password) {
		t.Errorf("the error shows the password: %v", err)
	}
	arts, _, err := pin(t, b, stack, PinOptions{Keychain: basicKeychain{auth.User, auth.Password}})
	if err != nil || arts["app"].Digest != want {
		t.Fatalf("with credentials: %v %+v", err, arts["app"])
	}
}

func TestPinTakesTheEnginesCopyAndSeesTheEngineTagMove(t *testing.T) {
	eng := engine(t)
	ctx := context.Background()
	tag := fmt.Sprintf("ladder-pintest-%d:1", time.Now().UnixNano())
	img := registrytest.Image(t, map[string]string{"www/v": "engine"})
	id, err := LoadImage(ctx, eng, img, tag)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = eng.ImageRemove(context.Background(), tag, image.RemoveOptions{}) })
	b, _ := newPinBuilder(t)
	stack := imageStack(map[string]string{"web": tag}, nil)
	arts, rep, err := pin(t, b, stack, PinOptions{Engine: eng, Pull: PullNever})
	if err != nil {
		t.Fatal(err)
	}
	a := arts["web"]
	if a.Builder != builderEngine || fmt.Sprint(rep.Pulled) != "[web]" {
		t.Fatalf("artifact %+v pulled %v, want it copied from the engine", a, rep.Pulled)
	}
	if cfg := b.configDigest(a.Digest); cfg != id {
		t.Errorf("stored image's config %s, want the engine's image ID %s (config kept byte for byte)", cfg, id)
	}
	// The same engine image always gives the same artifact.
	b2, _ := newPinBuilder(t)
	if arts2, _, err := pin(t, b2, stack, PinOptions{Engine: eng}); err != nil || arts2["web"].Digest != a.Digest {
		t.Errorf("second copy: %v %s, want %s", err, arts2["web"].Digest, a.Digest)
	}

	// Re-tag in the engine: the pin stays, the move is reported.
	other := registrytest.Image(t, map[string]string{"www/v": "engine-2"})
	if _, err := LoadImage(ctx, eng, other, tag); err != nil {
		t.Fatal(err)
	}
	arts, rep, err = pin(t, b, stack, PinOptions{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	if arts["web"].Digest != a.Digest || len(rep.Moved) != 1 || rep.Moved[0].Where != "engine" {
		t.Errorf("after re-tagging: %s moved %+v, want the pin kept and an engine move reported", arts["web"].Digest, rep.Moved)
	}
}

// savingEngine counts the images an engine is asked to save.
type savingEngine struct {
	ImageEngine
	saves atomic.Int32
}

func (e *savingEngine) ImageSave(ctx context.Context, images []string, opts ...client.ImageSaveOption) (io.ReadCloser, error) {
	e.saves.Add(1)
	return e.ImageEngine.ImageSave(ctx, images, opts...)
}

// Services that run one image copy it from the engine once, and pin the
// same artifact.
func TestPinCopiesAnImageOnceForTheServicesThatShareIt(t *testing.T) {
	docker := engine(t)
	eng := &savingEngine{ImageEngine: docker}
	ctx := context.Background()
	tag := fmt.Sprintf("ladder-pintest-%d:shared", time.Now().UnixNano())
	if _, err := LoadImage(ctx, docker, registrytest.Image(t, map[string]string{"etc/base": "shared"}), tag); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = docker.ImageRemove(context.Background(), tag, image.RemoveOptions{}) })
	b, _ := newPinBuilder(t)
	arts, rep, err := pin(t, b, imageStack(map[string]string{"queue": tag, "migrate": tag, "cron": tag}, nil), PinOptions{Engine: eng, Pull: PullMissing})
	if err != nil {
		t.Fatal(err)
	}
	if n := eng.saves.Load(); n != 1 {
		t.Errorf("the engine saved the image %d times for three services, want once", n)
	}
	if arts["queue"].Digest == "" || arts["queue"].Digest != arts["migrate"].Digest || arts["queue"].Digest != arts["cron"].Digest {
		t.Errorf("artifacts %+v, want one digest for the three", arts)
	}
	if fmt.Sprint(rep.Pulled) != "[cron migrate queue]" {
		t.Errorf("pulled %v, want all three", rep.Pulled)
	}
}

// snapOf is a snapshot of the given artifacts.
func snapOf(arts map[string]snapshot.Artifact) *snapshot.Snapshot {
	return snapshot.New("pins", strings.Repeat("a", 64), arts, "", time.Now())
}

func TestPushCopiesTheSnapshotByDigestAndRefusesATamperedLayer(t *testing.T) {
	src := registrytest.Start(t, nil)
	ref := src.Addr + "/shop/db:15"
	registrytest.Push(t, registrytest.Image(t, map[string]string{"www/v": "push"}), ref, nil)
	b, _ := newPinBuilder(t)
	arts, _, err := pin(t, b, imageStack(map[string]string{"db": ref}, nil), PinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap := snapOf(arts)
	ctx := context.Background()

	dst := registrytest.Start(t, nil)
	if err := b.Push(ctx, snap, Registry{Address: dst.Addr + "/team"}, anonymous); err != nil {
		t.Fatal(err)
	}
	pushed := RegistryRef(dst.Addr+"/team", "pins", "db", arts["db"].Digest)
	d, err := name.NewDigest(pushed)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(d)
	if err != nil {
		t.Fatalf("the rung's registry does not have %s: %v", pushed, err)
	}
	if desc.Digest.String() != arts["db"].Digest {
		t.Errorf("registry has %s, want %s", desc.Digest, arts["db"].Digest)
	}

	// Alter one byte of a layer in the store, keeping its size.
	img, err := b.Image(arts["db"].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	tamper(t, b.blobPath(m.Layers[len(m.Layers)-1].Digest))

	fresh := registrytest.Start(t, nil)
	err = b.Push(ctx, snap, Registry{Address: fresh.Addr}, anonymous)
	if err == nil || !strings.Contains(err.Error(), ErrBlobAltered.Error()) {
		t.Fatalf("pushing a tampered artifact: %v, want it refused as altered", err)
	}
	if _, err := remote.Head(mustDigest(t, RegistryRef(fresh.Addr, "pins", "db", arts["db"].Digest))); err == nil {
		t.Error("the tampered image reached the registry")
	}
	// Copying it into another store (as a pin does) is refused as well.
	b2, _ := newPinBuilder(t)
	if _, _, err := b2.copyIn(ctx, img, "db", ref, builderRegistry); err == nil || !errors.Is(err, ErrBlobAltered) {
		t.Errorf("copying a tampered image: %v, want ErrBlobAltered", err)
	}
}

func TestLoadingATamperedArtifactIntoTheEngineIsRefused(t *testing.T) {
	eng := engine(t)
	b, _ := newPinBuilder(t)
	img := registrytest.Image(t, map[string]string{"www/v": fmt.Sprint(time.Now().UnixNano())})
	digest, err := b.storeImage(nil, img, "web")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := b.Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := stored.Manifest()
	tamper(t, b.blobPath(m.Layers[len(m.Layers)-1].Digest))
	tag := fmt.Sprintf("ladder-tampertest-%d:1", time.Now().UnixNano())
	t.Cleanup(func() { _, _ = eng.ImageRemove(context.Background(), tag, image.RemoveOptions{}) })
	if _, err := LoadImage(context.Background(), eng, stored, tag); err == nil || !strings.Contains(err.Error(), ErrBlobAltered.Error()) {
		t.Fatalf("loading a tampered artifact: %v, want it refused as altered", err)
	}
}

func tamper(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustDigest(t *testing.T, ref string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// BenchmarkPinTenStored pins a stack of ten image services whose images
// are in the artifact store, checking each tag at the registry (one HEAD
// each) as `ladder up` does: the snapshot step of a no-op up.
func BenchmarkPinTenStored(b *testing.B) {
	reg := registrytest.Start(b, nil)
	images := map[string]string{}
	for i := range 10 {
		ref := fmt.Sprintf("%s/bench/svc%d:1", reg.Addr, i)
		registrytest.Push(b, registrytest.Image(b, map[string]string{"www/v": fmt.Sprint(i)}), ref, nil)
		images[fmt.Sprintf("svc%d", i)] = ref
	}
	stack := imageStack(images, nil)
	bld := New(Options{Store: newFakeStore(), Dir: filepath.Join(b.TempDir(), "artifacts")})
	ctx := context.Background()
	if _, _, err := bld.Pin(ctx, stack, PinOptions{Keychain: anonymous}); err != nil {
		b.Fatal(err)
	}
	for _, check := range []bool{false, true} {
		b.Run(fmt.Sprintf("check=%v", check), func(b *testing.B) {
			for b.Loop() {
				_, rep, err := bld.Pin(ctx, stack, PinOptions{Keychain: anonymous, CheckRegistry: check})
				if err != nil || len(rep.Cached) != 10 || len(rep.WaitMoved()) != 0 {
					b.Fatalf("%v %+v", err, rep)
				}
			}
		})
	}
}

func TestPullPolicyFollowsCompose(t *testing.T) {
	for in, want := range map[string]string{
		"": PullMissing, "missing": PullMissing, "if_not_present": PullMissing, "build": PullMissing,
		"daily": PullMissing, "weekly": PullMissing, "every_12h": PullMissing,
		"always": PullAlways, "ALWAYS": PullAlways, "never": PullNever,
	} {
		if got, err := PullPolicy(in); err != nil || got != want {
			t.Errorf("PullPolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := PullPolicy("sometimes"); err == nil {
		t.Error("PullPolicy(sometimes) accepted")
	}
}

func TestImageServicesAreThoseWithoutABuildSection(t *testing.T) {
	stack := imageStack(map[string]string{"db": "postgres:15", "cache": "redis:7"}, nil)
	built := stack.Compose.Services["db"]
	built.Build = &types.BuildConfig{Context: "."}
	stack.Compose.Services["db"] = built
	if got := fmt.Sprint(ImageServices(stack)); got != "[cache]" {
		t.Errorf("ImageServices = %s, want [cache]: a service with build and image is built", got)
	}
}
