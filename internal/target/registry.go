package target

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ladderhq/ladder/internal/render"
)

// Capability is something a kind of target can do beyond running a site.
type Capability string

// Capabilities a kind may declare.
const (
	// CapInspect: it reads what a site runs in full (Inspector).
	CapInspect Capability = "inspect"
	// CapWatch: it reports changes to a site as they happen (Watcher).
	CapWatch Capability = "watch"
	// CapLogs: it shows what a site's services wrote.
	CapLogs Capability = "logs"
	// CapDrift: what it inspects can be compared with a release (drift
	// detection by `ladder drift` and the agent).
	CapDrift Capability = "drift"
	// CapTrafficSplit: it can send a share of a service's traffic to
	// new instances (canary by weight).
	CapTrafficSplit Capability = "traffic-split"
)

// Engine says which Docker engine a site's containers run on. The zero
// Engine is the one DOCKER_HOST names, or the local socket.
type Engine struct {
	// Host is unix:///path, tcp://host:port or ssh://[user@]host.
	Host string
	// CA, Cert and Key are TLS files (absolute paths); any set makes
	// the connection TLS.
	CA, Cert, Key string
	// Insecure does not verify the engine's certificate.
	Insecure bool
}

// TLS reports whether the connection uses TLS.
func (e Engine) TLS() bool { return e.CA != "" || e.Cert != "" || e.Key != "" || e.Insecure }

// Site is what a Factory needs to build the target of one site.
type Site struct {
	Ref  render.SiteRef
	Kind string
	// Engine is the site's engine, for kinds that use one.
	Engine Engine
}

// Factory builds the target of one site.
type Factory func(ctx context.Context, site Site) (Target, error)

// Kind is one kind of target in a Registry.
type Kind struct {
	Name string
	// Caps are what the kind can do besides running a site.
	Caps []Capability
	// UsesEngine says the kind runs (some of) a site on a Docker
	// engine, so releases record which.
	UsesEngine bool
	New        Factory
}

// Can reports whether the kind declares c.
func (k Kind) Can(c Capability) bool { return slices.Contains(k.Caps, c) }

// Registry maps kind names to their factories. main builds one and hands
// it to what needs targets; nothing registers itself.
type Registry struct {
	kinds map[string]Kind
}

// NewRegistry returns a registry of kinds; a repeated or unnamed kind is
// an error.
func NewRegistry(kinds ...Kind) (*Registry, error) {
	r := &Registry{kinds: map[string]Kind{}}
	for _, k := range kinds {
		if k.Name == "" || k.New == nil {
			return nil, fmt.Errorf("target registry: kind %q needs a name and a factory", k.Name)
		}
		if _, dup := r.kinds[k.Name]; dup {
			return nil, fmt.Errorf("target registry: kind %q registered twice", k.Name)
		}
		r.kinds[k.Name] = k
	}
	return r, nil
}

// Lookup returns the kind named name.
func (r *Registry) Lookup(name string) (Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// Names lists the registered kinds, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// UnknownKindError is a site asking for a kind the registry lacks.
type UnknownKindError struct {
	Kind  string
	Known []string
}

func (e *UnknownKindError) Error() string {
	return fmt.Sprintf("unknown target %q: this ladder runs %s", e.Kind, strings.Join(e.Known, ", "))
}

// New builds the target of site with its kind's factory.
func (r *Registry) New(ctx context.Context, site Site) (Target, error) {
	k, ok := r.kinds[site.Kind]
	if !ok {
		return nil, &UnknownKindError{Kind: site.Kind, Known: r.Names()}
	}
	return k.New(ctx, site)
}

// Location is where a site runs: its target kind and, for a kind that
// uses one, its engine's host. Releases record it.
type Location struct {
	Kind   string
	Engine string
}

// Locator is a target that can say where a site runs.
type Locator interface {
	Locate(site render.SiteRef) Location
}
