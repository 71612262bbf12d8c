package engine

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Undocumented returns the patterns ("METHOD /path", as given to a Mux)
// that openapi.yaml does not document, for the tests that hold the routes
// of the engine and of its verbs to the document.
func Undocumented(patterns []string) ([]string, error) {
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	var out []string
	for _, p := range patterns {
		method, path, _ := strings.Cut(p, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}
