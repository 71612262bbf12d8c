package build

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Fetch copies the image ref names by digest ("host/repo@sha256:…") from
// its registry into the artifact store, byte for byte, checking every
// blob against its digest; an image the store holds already is not fetched
// again. service names the image in progress and errors. It returns the
// digest, which is the one ref names, or an error.
func (b *Builder) Fetch(ctx context.Context, service, ref string, reg Registry, keychain authn.Keychain) (string, error) {
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	var opts []name.Option
	if reg.Insecure {
		opts = append(opts, name.Insecure)
	}
	parsed, err := name.NewDigest(ref, opts...)
	if err != nil {
		return "", fmt.Errorf("service %s: %s is not a reference by digest: %w", service, ref, err)
	}
	if _, ok := b.stored(parsed.DigestStr()); ok {
		return parsed.DigestStr(), nil
	}
	img, err := remote.Image(parsed, remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain))
	if err != nil {
		return "", b.registryErr(service, ref, err)
	}
	d, _, err := b.copyIn(ctx, img, service, ref, builderRegistry)
	if err != nil {
		return "", b.registryErr(service, ref, err)
	}
	if d != parsed.DigestStr() {
		return "", fmt.Errorf("service %s: %s: the registry answered with %s: %w", service, ref, d, ErrBlobAltered)
	}
	return d, nil
}
