package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/engine"
	"github.com/ladderhq/ladder/internal/target"
)

type patterns []string

func (p *patterns) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	*p = append(*p, pattern)
}

// Every verb the engine serves for thin clients is in the engine's
// openapi.yaml.
func TestEngineVerbsAreDocumented(t *testing.T) {
	var got patterns
	(&engineVerbs{}).routes(&got)
	if len(got) < 4 {
		t.Fatalf("verbs registered: %v", got)
	}
	missing, err := engine.Undocumented(got)
	if err != nil || len(missing) > 0 {
		t.Errorf("served but not in the engine's openapi.yaml: %v %v", missing, err)
	}
}

func TestPageQuery(t *testing.T) {
	tests := []struct {
		query string
		want  pageQ
		err   string
	}{
		{"", pageQ{Limit: maxPage}, ""},
		{"limit=0", pageQ{Limit: maxPage}, ""},
		{"limit=20&before=120", pageQ{Limit: 20, Before: 120}, ""},
		{"limit=100000", pageQ{Limit: maxPage}, ""},
		{"limit=-1", pageQ{}, "limit"},
		{"limit=ten", pageQ{}, "limit"},
		{"before=-5", pageQ{}, "before"},
		{"before=HEAD", pageQ{}, "before"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/v1/envs/dev/releases?"+tt.query, nil)
		got, err := pageQuery(r)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want one about %s", tt.query, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.query, got, err, tt.want)
		}
	}
}

// IO.Kinds replace the built-in kinds of their name and add the others.
func TestWithKindsReplacesAndAdds(t *testing.T) {
	mk := func(name string, caps ...target.Capability) target.Kind {
		return target.Kind{Name: name, Caps: caps, New: func(context.Context, target.Site) (target.Target, error) { return nil, nil }}
	}
	a := &app{IO: IO{Kinds: []target.Kind{mk("process", target.CapLogs), mk("recorder")}}}
	reg, err := a.withKinds(mk("compose", target.CapDrift), mk("process", target.CapDrift))
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.Names(); !slices.Equal(got, []string{"compose", "process", "recorder"}) {
		t.Fatalf("kinds %v", got)
	}
	if k, _ := reg.Lookup("process"); k.Can(target.CapDrift) || !k.Can(target.CapLogs) {
		t.Errorf("process is not the given kind: %+v", k)
	}
	if k, _ := reg.Lookup("compose"); !k.Can(target.CapDrift) {
		t.Errorf("compose lost its built-in kind: %+v", k)
	}
}
