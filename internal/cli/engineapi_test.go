package cli

import (
	"net/http"
	"testing"

	"github.com/ladderhq/ladder/internal/engine"
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
