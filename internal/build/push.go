package build

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// Registry is where a rung's engine pulls the snapshot's images from
// (ladder.yaml: environments.NAME.registry).
type Registry struct {
	// Address is host[:port][/path], such as "registry.example.com/team"
	// or "127.0.0.1:5000".
	Address string
	// Insecure talks plain HTTP. Loopback and private addresses do
	// anyway, as the Docker engine does.
	Insecure bool
}

// RegistryRef is the reference a rung with a registry pulls a service's
// artifact by: "<address>/<stack>-<service>@sha256:<hex>". Third-party
// images are pushed under the stack's name too, so a rung needs access to
// one registry only.
func RegistryRef(address, stack, service, digest string) string {
	repo := refComponent(service, "service")
	if s := refComponent(stack, ""); s != "" {
		repo = s + "-" + repo
	}
	return strings.TrimSuffix(address, "/") + "/" + repo + "@" + digest
}

// Push copies the artifacts of snap into reg by digest (nothing is
// tagged), with the credentials keychain finds (nil: the user's Docker
// credentials). Blobs the registry has are not sent again. Every blob is
// checked against its digest as it is read, so an artifact altered in the
// store is refused rather than pushed. Progress reports each service as
// "pulling"-style layer and byte counts with Source "push".
func (b *Builder) Push(ctx context.Context, snap *snapshot.Snapshot, reg Registry, keychain authn.Keychain) error {
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	var opts []name.Option
	if reg.Insecure {
		opts = append(opts, name.Insecure)
	}
	for _, svc := range snap.Services() {
		art := snap.Artifacts[svc]
		img, err := b.Image(art.Digest)
		if err != nil {
			return fmt.Errorf("service %s: %w", svc, err)
		}
		if d, err := img.Digest(); err != nil || d.String() != art.Digest {
			return fmt.Errorf("service %s: artifact %s: manifest %w (it hashes to %v)", svc, snapshot.Short(art.Digest), ErrBlobAltered, d)
		}
		refStr := RegistryRef(reg.Address, snap.Stack, svc, art.Digest)
		ref, err := name.NewDigest(refStr, opts...)
		if err != nil {
			return fmt.Errorf("service %s: registry reference %s: %w", svc, refStr, err)
		}
		updates := make(chan v1.Update, 16)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for u := range updates {
				b.emit(Progress{Service: svc, State: StatePushing, Image: refStr, Source: reg.Address, Bytes: u.Complete, BytesTotal: u.Total})
			}
		}()
		err = remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain), remote.WithProgress(updates))
		<-done
		if err != nil {
			if ie, ok := b.registryErr(svc, refStr, err).(*ImageError); ok && ie.Reason == ReasonUnauthorized {
				return ie
			}
			return fmt.Errorf("service %s: pushing artifact %s to %s: %w", svc, snapshot.Short(art.Digest), reg.Address, err)
		}
		b.emit(Progress{Service: svc, State: StatePushed, Image: refStr, Source: reg.Address, Digest: art.Digest, Size: art.Size})
	}
	return nil
}

// Push progress states.
const (
	StatePushing = "pushing"
	StatePushed  = "pushed"
)
