package demotest

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The demo's own compose file, without its database, is still a compose
// file: every other service is there, none depends on or reaches the
// database, and nothing names its volume.
func TestWithoutDatabaseOnTheDemo(t *testing.T) {
	src, err := os.ReadFile("../../examples/trading/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := WithoutDatabase(string(src))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			DependsOn   map[string]any `yaml:"depends_on"`
			Environment map[string]any `yaml:"environment"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("the result is not YAML: %v\n%s", err, out)
	}
	var names []string
	for name, svc := range doc.Services {
		names = append(names, name)
		for dep := range svc.DependsOn {
			if dep == "db" || dep == "migrate" {
				t.Errorf("%s still depends on %s", name, dep)
			}
		}
		if _, ok := svc.Environment["DATABASE_URL"]; ok {
			t.Errorf("%s still has DATABASE_URL", name)
		}
	}
	slices.Sort(names)
	if want := []string{"notifications", "trades", "users", "web"}; !slices.Equal(names, want) {
		t.Errorf("services %v, want %v", names, want)
	}
	if len(doc.Volumes) > 0 || strings.Contains(out, "pgdata") {
		t.Errorf("the database's volume is still named:\n%s", out)
	}
}

func TestWithoutDatabaseRefusesAnotherFile(t *testing.T) {
	if _, err := WithoutDatabase("services:\n  web:\n    image: x\n"); err == nil {
		t.Fatal("a file without the demo's database was rewritten without a word")
	}
}
