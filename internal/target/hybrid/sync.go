package hybrid

import (
	"context"

	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

var _ target.Syncer = (*Target)(nil)

// syncer returns the half that runs service: the compose target for a
// service in the engine, the process target otherwise.
func (t *Target) syncer(ctx context.Context, ref render.SiteRef, service string) (target.Syncer, error) {
	if e, err := t.eng(ctx); err == nil && t.inEngine(ctx, e, ref, service) {
		return e, nil
	}
	return t.opts.Process, nil
}

// Sync implements target.Syncer through the half that runs service.
func (t *Target) Sync(ctx context.Context, ref render.SiteRef, service string, files []target.SyncFile) error {
	s, err := t.syncer(ctx, ref, service)
	if err != nil {
		return err
	}
	return s.Sync(ctx, ref, service, files)
}

// Restart implements target.Syncer through the half that runs service.
func (t *Target) Restart(ctx context.Context, ref render.SiteRef, service string) error {
	s, err := t.syncer(ctx, ref, service)
	if err != nil {
		return err
	}
	return s.Restart(ctx, ref, service)
}
