package compose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/image"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/render"
)

// pullImage has the engine pull the service's artifact from the site's
// registry by digest, and returns the reference containers are created
// from. The digest in the reference is what the engine checks the pulled
// manifest against, so what runs is the snapshot's artifact whatever
// happened to tags in between.
func (t *Target) pullImage(ctx context.Context, stack string, svc *render.Service) (string, error) {
	ref := build.RegistryRef(t.opts.Registry.Address, stack, svc.Name, svc.Digest)
	t.mu.Lock()
	_, ok := t.images[ref]
	t.mu.Unlock()
	if ok {
		return ref, nil
	}
	if _, err := t.opts.Engine.ImageInspect(ctx, ref); err != nil {
		if !isNotFound(err) {
			return "", fmt.Errorf("service %s: %w", svc.Name, t.engineErr(err))
		}
		var opts image.PullOptions
		if t.opts.RegistryAuth != nil {
			host, _, _ := strings.Cut(t.opts.Registry.Address, "/")
			opts.RegistryAuth = t.opts.RegistryAuth(host)
		}
		rc, err := t.opts.Engine.ImagePull(ctx, ref, opts)
		if err == nil {
			err = readPull(rc)
		}
		if err != nil {
			return "", fmt.Errorf("service %s: the engine could not pull %s (was the snapshot promoted here, which pushes it?): %w", svc.Name, ref, t.engineErr(err))
		}
	}
	t.mu.Lock()
	t.images[ref] = ref
	t.mu.Unlock()
	return ref, nil
}

// readPull reads a pull's progress stream to its end and returns the
// error it reports, if any.
func readPull(rc io.ReadCloser) error {
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the engine's pull progress: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}
