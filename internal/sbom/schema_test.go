package sbom

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestValidatesAgainstCycloneDXSchema checks the SBOM against the official
// CycloneDX 1.6 JSON schema, which cyclonedx-go ships in its module (the
// library itself only (de)serialises; it does not validate).
func TestValidatesAgainstCycloneDXSchema(t *testing.T) {
	fx := buildFixture(t)
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		skipOrFail(t, "cyclonedx-go module source not available: %v", err)
	}
	c := jsonschema.NewCompiler()
	// The BOM schema $refs these two by their $id; serve them from disk so
	// nothing is fetched.
	for file, id := range map[string]string{
		"bom-1.6.schema.json":   schemaURL,
		"spdx.schema.json":      "http://cyclonedx.org/schema/spdx.schema.json",
		"jsf-0.82.schemax.json": "http://cyclonedx.org/schema/jsf-0.82.schema.json",
	} {
		b, err := os.ReadFile(filepath.Join(dir, "schema", file))
		if err != nil {
			skipOrFail(t, "schema not shipped: %v", err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	schema, err := c.Compile(schemaURL)
	if err != nil {
		t.Fatal(err)
	}

	bom, err := ForGoBinaryFile("api", imageDigest, fx.path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(encode(t, bom)))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(doc); err != nil {
		t.Fatalf("SBOM is not valid CycloneDX 1.6: %v", err)
	}

	// And the check has teeth: a hash that is not hex is refused.
	(*bom.Metadata.Component.Hashes)[0].Value = "sha256:not-hex"
	doc, err = jsonschema.UnmarshalJSON(bytes.NewReader(encode(t, bom)))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(doc); err == nil {
		t.Fatal("schema accepted a non-hex hash")
	}
}

// skipOrFail skips on a developer's machine but fails under CI, where a
// missing component must never pass silently.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
