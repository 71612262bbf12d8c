package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DockerLoader is the part of the Docker Engine API client that LoadImage
// uses; *client.Client satisfies it.
type DockerLoader interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageTag(ctx context.Context, source, target string) error
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (image.LoadResponse, error)
}

var _ DockerLoader = (*client.Client)(nil)

// LoadImage makes img available in the engine under the tag ref (see
// ImageRef), without a registry, and returns its image ID: the digest of
// its config ("sha256:..."), which is what containers report as their
// Image. An engine that already has the image (by ID) only gets the tag;
// otherwise the image is streamed to it as a `docker save` tarball.
func LoadImage(ctx context.Context, docker DockerLoader, img v1.Image, ref string) (string, error) {
	if docker == nil {
		return "", fmt.Errorf("loading %s: no Docker engine (%s)", ref, dockerHost())
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return "", fmt.Errorf("loading %s: %w", ref, err)
	}
	id := cfg.String()
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", fmt.Errorf("loading %s: not a valid image reference: %w", ref, err)
	}
	info, err := docker.ImageInspect(ctx, id)
	switch {
	case err == nil && info.ID == id:
		if err := docker.ImageTag(ctx, id, ref); err != nil {
			return "", fmt.Errorf("tagging %s as %s: %w", id, ref, err)
		}
		return id, nil
	case err != nil && !cerrdefs.IsNotFound(err):
		return "", fmt.Errorf("loading %s: %w", ref, engineErr(err))
	}

	pr, pw := io.Pipe()
	written := make(chan error, 1)
	go func() {
		err := tarball.Write(tag, img, pw)
		pw.CloseWithError(err)
		written <- err
	}()
	resp, err := docker.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err == nil {
		err = readLoadResponse(resp)
	} else {
		err = engineErr(err)
	}
	pr.CloseWithError(errBuildDone)
	if werr := <-written; werr != nil && !errors.Is(werr, errBuildDone) && err == nil {
		err = werr
	}
	if err != nil {
		return "", fmt.Errorf("loading %s into the Docker engine: %w", ref, err)
	}
	// The engine names an image by its config digest; check that it did,
	// so the ID handed out is the one containers will report.
	info, err = docker.ImageInspect(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("loading %s: the engine does not show it after loading: %w", ref, err)
	}
	if info.ID != id {
		return "", fmt.Errorf("loading %s: the engine gave it ID %s, want %s", ref, info.ID, id)
	}
	return id, nil
}

// readLoadResponse reads the engine's answer to a load to its end and
// returns the error it reports, if any.
func readLoadResponse(resp image.LoadResponse) error {
	defer resp.Body.Close()
	if !resp.JSON {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var m jsonMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the engine's response: %w", err)
		}
		if e := m.err(); e != "" {
			return errors.New(e)
		}
	}
}

// ImageRef is the engine tag of a service's image:
// "<stack>-<service>:ladder-<first 12 hex digits of digest>", lowercase,
// with anything a Docker reference does not allow in a name replaced, so
// "Trading", "users", "sha256:3f2a9c1b0d4e..." gives
// "trading-users:ladder-3f2a9c1b0d4e". An empty stack is left out.
func ImageRef(stack, service, digest string) string {
	repo := refComponent(service, "service")
	if s := refComponent(stack, ""); s != "" {
		repo = s + "-" + repo
	}
	hex := digest
	if _, h, ok := strings.Cut(digest, ":"); ok {
		hex = h
	}
	hex = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'f' {
			return r
		}
		return -1
	}, strings.ToLower(hex))
	return repo + ":ladder-" + hex[:min(12, len(hex))]
}

// refComponent turns s into one path component of a Docker repository
// name: lowercase [a-z0-9] runs joined by ".", "_", "__" or dashes, at most
// 100 characters; an s with no letter or digit gives def.
func refComponent(s, def string) string {
	var b strings.Builder
	sep := ""
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if b.Len() > 0 {
				b.WriteString(validSeparator(sep))
			}
			sep = ""
			b.WriteRune(r)
		default:
			sep += string(r)
		}
		if b.Len() >= 100 {
			break
		}
	}
	if b.Len() == 0 {
		return def
	}
	return b.String()
}

// validSeparator keeps a separator a reference name allows and turns any
// other run of characters into a dash.
func validSeparator(sep string) string {
	if sep == "" || sep == "." || sep == "_" || sep == "__" || strings.Trim(sep, "-") == "" && sep != "" {
		return sep
	}
	return "-"
}
