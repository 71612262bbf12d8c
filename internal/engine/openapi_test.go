package engine

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/ladderhq/ladder/internal/auth"
)

// doc is openapi.yaml as JSON values, with its paths by method.
type doc struct {
	raw   map[string]any
	paths map[string][]string // path -> METHODS
}

func loadDoc(t *testing.T) doc {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(OpenAPI, &v); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d := doc{paths: map[string][]string{}}
	if err := json.Unmarshal(b, &d.raw); err != nil {
		t.Fatal(err)
	}
	for path, item := range d.raw["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			d.paths[path] = append(d.paths[path], strings.ToUpper(method))
		}
	}
	return d
}

// validate checks body against the schema at pointer.
func (d doc) validate(t *testing.T, pointer string, body []byte) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("openapi.json", d.raw); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("openapi.json#" + pointer)
	if err != nil {
		t.Fatalf("compiling %s: %v", pointer, err)
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, body)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("the answer does not match %s:\n%v\nanswer: %s", pointer, err, body)
	}
}

// Every route the engine serves is documented, every documented route
// the engine owns is served (the verbs are the CLI's: its test holds them
// to the same document), and the answers match the schemas.
func TestOpenAPIMatchesTheEngine(t *testing.T) {
	d := loadDoc(t)
	dir := t.TempDir()
	fl := &fleet{runners: map[string]*fakeRunner{}}
	grants, err := auth.ParseGrants([]string{"deployer:*"})
	if err != nil {
		t.Fatal(err)
	}
	tk := tokens{"deployer": {Name: "d", Grants: grants}}
	e, _ := serve(t, Options{StateDir: dir, Store: newStore(t, dir), New: fl.new, Auth: tk, Holder: holder("doc"), Lease: fast, Served: true})
	if missing, err := Undocumented(e.patterns); err != nil || len(missing) > 0 {
		t.Errorf("served but not in openapi.yaml: %v %v", missing, err)
	}
	verbs := map[string]bool{"/v1/promote": true, "/v1/rollback": true, "/v1/approve": true, "/v1/envs/{env}/status": true,
		"/v1/envs/{env}/releases": true, "/v1/envs/{env}/drift": true, "/v1/down": true, "/v1/audit": true,
		"/v1/envs/{env}/events": true, "/v1/envs/{env}/events/stream": true, "/v1/envs/{env}/logs": true,
		"/v1/tokens": true, "/v1/tokens/{name}": true,
		"/v1/trust": true, "/v1/trust/{fingerprint}": true, "/v1/snapshots": true, "/v1/snapshots/{ref}": true,
		"/v1/jobs": true, "/v1/envs/{env}/policy": true, "/v1/envs/{env}/policy/accept": true}
	for path, methods := range d.paths {
		for _, m := range methods {
			if !verbs[path] && !slices.Contains(e.patterns, m+" "+path) {
				t.Errorf("%s %s is in openapi.yaml but the engine does not serve it", m, path)
			}
		}
	}

	c, ok := Find(t.Context(), dir)
	if !ok {
		t.Fatal("no engine")
	}
	get := func(path string) (int, []byte) {
		resp, err := c.request(t.Context(), http.MethodGet, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, body := get("/v1/openapi.yaml"); code != 200 || string(body) != string(OpenAPI) {
		t.Errorf("GET /v1/openapi.yaml: %d", code)
	}
	c.Token = "deployer"
	info, err := c.Run(t.Context(), RunRequest{Env: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	code, body := get("/v1/engine")
	if code != 200 {
		t.Fatalf("GET /v1/engine: %d %s", code, body)
	}
	d.validate(t, "/components/schemas/EngineInfo", body)
	info, err = c.Run(t.Context(), RunRequest{Env: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(info)
	d.validate(t, "/components/schemas/EnvInfo", b)
	c.Token = "nobody"
	_, err = c.Run(t.Context(), RunRequest{Env: "dev"})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 401 {
		t.Fatalf("run without a known token: %v", err)
	}
	d.validate(t, "/components/schemas/Error", se.Body)
}
