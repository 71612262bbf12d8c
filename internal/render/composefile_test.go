package render

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestComposeFileGolden(t *testing.T) {
	p := loadDemo(t)
	d := mustRender(t, p, "local", "default", fakeSnapshot(p.Stack.Name, demoDigests), fakeImages)
	image := func(service, digest string) string { return "trading-" + service + ":ladder-" + digest[7:19] }
	out, err := ComposeFile(d, image, "/srv/trading")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "demo.compose.yml", string(out))

	// What docker-compose needs is there: the format version, every
	// service with its image, and dependency conditions.
	var doc struct {
		Version  string
		Services map[string]struct {
			Image     string
			DependsOn map[string]struct{ Condition string } `yaml:"depends_on"`
			Ports     []string
		}
	}
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("the compose file is not YAML: %v", err)
	}
	if doc.Version != "2.4" || len(doc.Services) != len(d.Services) {
		t.Fatalf("version %q with %d services", doc.Version, len(doc.Services))
	}
	if got := doc.Services["trades"].DependsOn["users"].Condition; got != ConditionHealthy {
		t.Errorf("trades depends on users with condition %q", got)
	}
	if got := doc.Services["web"].Ports; len(got) != 1 || got[0] != "3000:8080/tcp" {
		t.Errorf("web ports %v", got)
	}
	if !strings.HasPrefix(doc.Services["users"].Image, "trading-users:ladder-") {
		t.Errorf("users image %q", doc.Services["users"].Image)
	}
	again, _ := ComposeFile(d, image, "/srv/trading")
	if string(again) != string(out) {
		t.Error("the compose file is not deterministic")
	}
}
