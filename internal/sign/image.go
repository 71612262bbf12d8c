package sign

import (
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// ErrImageAltered is wrapped by VerifyImage and VerifyImageDigest when an
// image's stored bytes do not match the digests that name them.
var ErrImageAltered = errors.New("stored content does not match its digest: it was altered or damaged on disk")

// VerifyImage checks that every blob of img hashes to the digest that
// names it: the config and each layer (compressed and uncompressed)
// against the manifest, and the manifest against itself. It reads every
// layer in full.
//
// go-containerregistry's validate.Image does the layer and manifest work,
// but it compares the config with a digest recomputed from the config
// itself, so a config blob changed in place in an OCI layout passes it;
// VerifyImage also compares the config with the digest the manifest
// records. A manifest changed in place can only be caught against a digest
// from elsewhere: use VerifyImageDigest with the digest a snapshot pins.
func VerifyImage(img v1.Image) error {
	name := "image"
	if d, err := img.Digest(); err == nil {
		name = "image " + snapshot.Short(d.String())
	}
	if err := validate.Image(img); err != nil {
		return fmt.Errorf("%s: %w:\n%v", name, ErrImageAltered, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("%s: reading manifest: %w", name, err)
	}
	got, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("%s: reading config: %w", name, err)
	}
	if got != m.Config.Digest {
		return fmt.Errorf("%s: config: %w (manifest names %s, content hashes to %s)",
			name, ErrImageAltered, snapshot.Short(m.Config.Digest.String()), snapshot.Short(got.String()))
	}
	return nil
}

// VerifyImageDigest checks that img's manifest hashes to want (a
// "sha256:<hex>" digest, as a snapshot records it) and then that the rest
// of the image is intact (VerifyImage).
func VerifyImageDigest(img v1.Image, want string) error {
	got, err := img.Digest()
	if err != nil {
		return fmt.Errorf("image %s: reading manifest: %w", snapshot.Short(want), err)
	}
	if got.String() != want {
		return fmt.Errorf("image %s: manifest: %w (it hashes to %s)", snapshot.Short(want), ErrImageAltered, snapshot.Short(got.String()))
	}
	return VerifyImage(img)
}
