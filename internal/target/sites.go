package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
)

// Sites runs each site of an environment on that site's own target: one
// Target per site (a Compose project on its engine, local processes), so
// that an environment's fleet may span kinds and engines while the code
// that deploys, watches and inspects a site sees one Target.
type Sites struct {
	kind  string
	sites map[string]siteTarget
}

type siteTarget struct {
	tgt  Target
	loc  Location
	caps []Capability
}

var (
	_ Target    = (*Sites)(nil)
	_ Inspector = (*Sites)(nil)
	_ Watcher   = (*Sites)(nil)
	_ Describer = (*Sites)(nil)
	_ Placer    = (*Sites)(nil)
	_ Syncer    = (*Sites)(nil)
	_ Locator   = (*Sites)(nil)
	_ Releaser  = (*Sites)(nil)
)

// NewSites returns an empty Sites; add each site's target with Add.
func NewSites() *Sites { return &Sites{sites: map[string]siteTarget{}} }

// Add makes t the target of the site named site, running where loc says,
// able to do what caps declare (see Can).
func (s *Sites) Add(site string, t Target, loc Location, caps ...Capability) {
	s.sites[site] = siteTarget{tgt: t, loc: loc, caps: caps}
	kinds := map[string]bool{}
	for _, st := range s.sites {
		kinds[st.loc.Kind] = true
	}
	s.kind = loc.Kind
	if len(kinds) > 1 {
		s.kind = "mixed"
	}
}

// Can reports whether the kind of site declared c.
func (s *Sites) Can(site string, c Capability) bool {
	return slices.Contains(s.sites[site].caps, c)
}

// Target returns the target of site, or nil.
func (s *Sites) Target(site string) Target {
	return s.sites[site].tgt
}

// ErrNoSite is a site the environment does not have.
var ErrNoSite = errors.New("no such site")

func (s *Sites) of(ref render.SiteRef) (Target, error) {
	st, ok := s.sites[ref.Site]
	if !ok {
		return nil, fmt.Errorf("%s: %w", ref, ErrNoSite)
	}
	return st.tgt, nil
}

// Kind implements Target: the sites' kind when they share one, else
// "mixed" (Locate says each site's).
func (s *Sites) Kind() string { return s.kind }

// Locate implements Locator.
func (s *Sites) Locate(ref render.SiteRef) Location {
	return s.sites[ref.Site].loc
}

// Observe implements Target.
func (s *Sites) Observe(ctx context.Context, ref render.SiteRef) (*plan.Observed, error) {
	t, err := s.of(ref)
	if err != nil {
		return nil, err
	}
	return t.Observe(ctx, ref)
}

// Apply implements Target.
func (s *Sites) Apply(ctx context.Context, d *render.Desired, p *plan.Plan, opts ApplyOptions) error {
	t, err := s.of(d.SiteRef)
	if err != nil {
		return err
	}
	return t.Apply(ctx, d, p, opts)
}

// Down implements Target.
func (s *Sites) Down(ctx context.Context, ref render.SiteRef, opts DownOptions) error {
	t, err := s.of(ref)
	if err != nil {
		return err
	}
	return t.Down(ctx, ref, opts)
}

// Release implements Releaser for sites whose target does; for the others
// it does nothing (what they run outlives this process).
func (s *Sites) Release(ctx context.Context, ref render.SiteRef) error {
	t, err := s.of(ref)
	if err != nil {
		return err
	}
	if r, ok := t.(Releaser); ok {
		return r.Release(ctx, ref)
	}
	return nil
}

// Endpoints implements Target.
func (s *Sites) Endpoints(ref render.SiteRef) []Endpoint {
	t, err := s.of(ref)
	if err != nil {
		return nil
	}
	return t.Endpoints(ref)
}

// Logs implements Target.
func (s *Sites) Logs(ctx context.Context, ref render.SiteRef, service string, opts LogOptions, w io.Writer) error {
	t, err := s.of(ref)
	if err != nil {
		return err
	}
	return t.Logs(ctx, ref, service, opts, w)
}

// NotSupportedError is a site's target lacking what was asked of it.
type NotSupportedError struct {
	Site render.SiteRef
	Kind string
	What string
}

func (e *NotSupportedError) Error() string {
	return fmt.Sprintf("%s runs on the %s target, which cannot %s", e.Site, e.Kind, e.What)
}

// Inspect implements Inspector for sites whose target does.
func (s *Sites) Inspect(ctx context.Context, ref render.SiteRef) (*drift.Live, error) {
	t, err := s.of(ref)
	if err != nil {
		return nil, err
	}
	insp, ok := t.(Inspector)
	if !ok {
		return nil, &NotSupportedError{Site: ref, Kind: t.Kind(), What: "inspect what runs"}
	}
	return insp.Inspect(ctx, ref)
}

// Watch implements Watcher for sites whose target does; for another it
// waits for ctx to end, reporting nothing.
func (s *Sites) Watch(ctx context.Context, ref render.SiteRef, changed func(what string)) {
	t, _ := s.of(ref)
	if w, ok := t.(Watcher); ok {
		w.Watch(ctx, ref, changed)
		return
	}
	<-ctx.Done()
}

// Describe implements Describer; the site's engine is part of it.
func (s *Sites) Describe(ref render.SiteRef) map[string]string {
	st, ok := s.sites[ref.Site]
	if !ok {
		return nil
	}
	var out map[string]string
	if d, ok := st.tgt.(Describer); ok {
		out = d.Describe(ref)
	}
	if st.loc.Engine != "" {
		if out == nil {
			out = map[string]string{}
		}
		out["engine"] = st.loc.Engine
	}
	return out
}

// Place implements Placer for sites whose target does.
func (s *Sites) Place(ctx context.Context, d *render.Desired) (map[string]Side, error) {
	t, err := s.of(d.SiteRef)
	if err != nil {
		return nil, err
	}
	pl, ok := t.(Placer)
	if !ok {
		return nil, &NotSupportedError{Site: d.SiteRef, Kind: t.Kind(), What: "place services"}
	}
	return pl.Place(ctx, d)
}

// Sides implements Placer.
func (s *Sites) Sides(ref render.SiteRef) map[string]Side {
	t, _ := s.of(ref)
	if pl, ok := t.(Placer); ok {
		return pl.Sides(ref)
	}
	return nil
}

// Sync implements Syncer for sites whose target does.
func (s *Sites) Sync(ctx context.Context, ref render.SiteRef, service string, files []SyncFile) error {
	t, err := s.of(ref)
	if err != nil {
		return err
	}
	sy, ok := t.(Syncer)
	if !ok {
		return &NotSupportedError{Site: ref, Kind: t.Kind(), What: "sync files in place"}
	}
	return sy.Sync(ctx, ref, service, files)
}

// Restart implements Syncer for sites whose target does.
func (s *Sites) Restart(ctx context.Context, ref render.SiteRef, service string) error {
	t, err := s.of(ref)
	if err != nil {
		return err
	}
	sy, ok := t.(Syncer)
	if !ok {
		return &NotSupportedError{Site: ref, Kind: t.Kind(), What: "restart in place"}
	}
	return sy.Restart(ctx, ref, service)
}
