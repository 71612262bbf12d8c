package render

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// FromImages is the ImageLookup reading configurations from OCI images,
// such as those of ladder's artifact store.
func FromImages(get func(digest string) (v1.Image, error)) ImageLookup {
	return func(digest string) (Image, error) {
		img, err := get(digest)
		if err != nil {
			return Image{}, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return Image{}, fmt.Errorf("image %s: %w", snapshot.Short(digest), err)
		}
		return Image{Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd, Env: cf.Config.Env, WorkingDir: cf.Config.WorkingDir}, nil
	}
}

// ImageIDs maps artifact digests to the image ID a container runtime
// reports for them (the image's config digest); a digest whose image
// cannot be read maps to itself.
func ImageIDs(get func(digest string) (v1.Image, error)) func(string) string {
	return func(digest string) string {
		img, err := get(digest)
		if err != nil {
			return digest
		}
		h, err := img.ConfigName()
		if err != nil {
			return digest
		}
		return h.String()
	}
}
