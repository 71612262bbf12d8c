package target

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
)

// fake is a Target whose Observe calls a function field; it implements
// none of the optional interfaces.
type fake struct {
	kind    string
	observe func(ref render.SiteRef) (*plan.Observed, error)
}

func (f *fake) Kind() string { return f.kind }
func (f *fake) Observe(_ context.Context, ref render.SiteRef) (*plan.Observed, error) {
	return f.observe(ref)
}
func (f *fake) Apply(context.Context, *render.Desired, *plan.Plan, ApplyOptions) error { return nil }
func (f *fake) Down(context.Context, render.SiteRef, DownOptions) error                { return nil }
func (f *fake) Endpoints(render.SiteRef) []Endpoint                                    { return nil }
func (f *fake) Logs(context.Context, render.SiteRef, string, LogOptions, io.Writer) error {
	return nil
}

var _ Target = (*fake)(nil)

func TestRegistry(t *testing.T) {
	newFake := func(ctx context.Context, s Site) (Target, error) { return &fake{kind: s.Kind}, nil }
	if _, err := NewRegistry(Kind{Name: "a", New: newFake}, Kind{Name: "a", New: newFake}); err == nil {
		t.Error("a kind registered twice: no error")
	}
	if _, err := NewRegistry(Kind{Name: "a"}); err == nil {
		t.Error("a kind without a factory: no error")
	}
	r, err := NewRegistry(Kind{Name: "b", New: newFake, Caps: []Capability{CapLogs}}, Kind{Name: "a", New: newFake})
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := r.Lookup("b"); !ok || !k.Can(CapLogs) || k.Can(CapTrafficSplit) {
		t.Errorf("Lookup(b) = %+v, %v: want it, able to show logs and not to split traffic", k, ok)
	}
	tgt, err := r.New(t.Context(), Site{Kind: "a"})
	if err != nil || tgt.Kind() != "a" {
		t.Errorf("New(a) = %v, %v", tgt, err)
	}
	var unknown *UnknownKindError
	if _, err := r.New(t.Context(), Site{Kind: "kubernetes"}); !errors.As(err, &unknown) || err.Error() != `unknown target "kubernetes": this ladder runs a, b` {
		t.Errorf("New(kubernetes): error = %v", err)
	}
}

func TestSitesRouteEachSiteToItsTarget(t *testing.T) {
	seen := map[string]string{}
	mk := func(name string) *fake {
		return &fake{kind: "compose", observe: func(ref render.SiteRef) (*plan.Observed, error) {
			seen[ref.Site] = name
			return &plan.Observed{}, nil
		}}
	}
	s := NewSites()
	s.Add("east", mk("engine-1"), Location{Kind: "compose", Engine: "unix:///run/docker.sock"}, CapDrift, CapLogs)
	s.Add("west", mk("engine-2"), Location{Kind: "compose", Engine: "tcp://127.0.0.1:2376"})
	for _, site := range []string{"east", "west"} {
		if _, err := s.Observe(t.Context(), render.SiteRef{Env: "prod", Site: site}); err != nil {
			t.Fatal(err)
		}
	}
	if seen["east"] != "engine-1" || seen["west"] != "engine-2" {
		t.Errorf("sites observed through %v, want east on engine-1 and west on engine-2", seen)
	}
	if !s.Can("east", CapDrift) || s.Can("west", CapDrift) || s.Can("north", CapLogs) {
		t.Error("Can does not answer with the capabilities each site's kind declared")
	}
	if s.Kind() != "compose" {
		t.Errorf("Kind = %q, want compose", s.Kind())
	}
	if loc := s.Locate(render.SiteRef{Env: "prod", Site: "west"}); loc.Engine != "tcp://127.0.0.1:2376" {
		t.Errorf("Locate(west) = %+v", loc)
	}
	if _, err := s.Observe(t.Context(), render.SiteRef{Env: "prod", Site: "north"}); !errors.Is(err, ErrNoSite) {
		t.Errorf("Observe of a site not added: error = %v, want ErrNoSite", err)
	}
	var ns *NotSupportedError
	if _, err := s.Inspect(t.Context(), render.SiteRef{Env: "prod", Site: "east"}); !errors.As(err, &ns) {
		t.Errorf("Inspect through a target that cannot: error = %v, want NotSupportedError", err)
	}
	if d := s.Describe(render.SiteRef{Env: "prod", Site: "west"}); d["engine"] != "tcp://127.0.0.1:2376" {
		t.Errorf("Describe(west) = %v, want the engine in it", d)
	}
	s.Add("lab", mk("local"), Location{Kind: "process"})
	if s.Kind() != "mixed" {
		t.Errorf("Kind of sites of two kinds = %q, want mixed", s.Kind())
	}
}
