package compose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

// pullImage has the engine pull the service's artifact from the site's
// registry by digest, and returns the reference containers are created
// from. The digest in the reference is what the engine checks the pulled
// manifest against, so what runs is the snapshot's artifact whatever
// happened to tags in between.
func (t *Target) pullImage(ctx context.Context, stack string, svc *render.Service, progress func(target.Progress)) (string, error) {
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
		begun := time.Now()
		progress(target.Progress{Service: svc.Name, Step: "pulling", Detail: ref})
		rc, err := t.opts.Engine.ImagePull(ctx, ref, opts)
		if err == nil {
			err = readPull(rc)
		}
		if err == nil {
			progress(target.Progress{Service: svc.Name, Step: "pulled", Elapsed: time.Since(begun)})
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

// imageMissing reports whether the engine lacks img (by its ID, the
// config digest), so that a load is about to send it.
func (t *Target) imageMissing(ctx context.Context, img v1.Image) bool {
	id, err := img.ConfigName()
	if err != nil {
		return true
	}
	info, err := t.opts.Engine.ImageInspect(ctx, id.String())
	return err != nil || info.ID != id.String()
}

// imageSize is the compressed size of img's layers, for people.
func imageSize(img v1.Image) string {
	m, err := img.Manifest()
	if err != nil {
		return "size unknown"
	}
	var n int64
	for _, l := range m.Layers {
		n += l.Size
	}
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
