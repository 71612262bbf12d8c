package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/store"
)

// openAPIDoc is the parsed document, as plain JSON values.
type openAPIDoc struct {
	raw   map[string]any
	paths map[string]map[string]any // path -> method -> operation
}

func loadOpenAPI(t *testing.T) *openAPIDoc {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(openAPI, &v); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	// Round-trip through JSON: the schema compiler wants JSON values.
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("openapi.yaml as JSON: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v, want 3.1.0", raw["openapi"])
	}
	doc := &openAPIDoc{raw: raw, paths: map[string]map[string]any{}}
	for path, item := range raw["paths"].(map[string]any) {
		doc.paths[path] = map[string]any{}
		for method, op := range item.(map[string]any) {
			doc.paths[path][strings.ToUpper(method)] = op
		}
	}
	return doc
}

// schema compiles the document's schema at a JSON pointer, such as
// "/components/schemas/Status".
func (d *openAPIDoc) schema(t *testing.T, pointer string) *jsonschema.Schema {
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
	return s
}

// responseSchema is the pointer to the JSON schema of an operation's
// answer with the given status, following a $ref to a shared response.
func (d *openAPIDoc) responseSchema(t *testing.T, path, method string, code int) string {
	t.Helper()
	op, ok := d.paths[path][method].(map[string]any)
	if !ok {
		t.Fatalf("%s %s is not in openapi.yaml", method, path)
	}
	resps := op["responses"].(map[string]any)
	key := fmt.Sprint(code)
	r, ok := resps[key].(map[string]any)
	if !ok {
		r, ok = resps["default"].(map[string]any)
		key = "default"
	}
	if !ok {
		t.Fatalf("%s %s documents no %d answer", method, path, code)
	}
	base := "/paths/" + escapePointer(path) + "/" + strings.ToLower(method) + "/responses/" + key
	if ref, ok := r["$ref"].(string); ok {
		base = strings.TrimPrefix(ref, "#")
		r = d.lookup(t, base).(map[string]any)
	}
	if _, ok := r["content"].(map[string]any)["application/json"]; !ok {
		t.Fatalf("%s %s: the %s answer is not JSON", method, path, key)
	}
	return base + "/content/application~1json/schema"
}

func (d *openAPIDoc) lookup(t *testing.T, pointer string) any {
	t.Helper()
	var v any = d.raw
	for _, part := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object at %q", pointer, part)
		}
		v = m[part]
	}
	return v
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// openAPIServer serves the fixture status, the fake ladder and a store
// holding a snapshot, releases and events, so every read route has
// something to answer.
func openAPIServer(t *testing.T) http.Handler {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	putSnapshot(t, st, snapA, t0)
	for _, site := range []string{"eu", "us"} {
		r, err := st.CreateRelease(ctx, store.Release{Env: "dev", Site: site, Snapshot: snapA, Phase: store.PhaseProgressing, Started: t0, By: "ana", Target: "compose"})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AdvanceRelease(ctx, r.ID, store.PhaseProgressing, store.PhaseSucceeded, "", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	appendEvent(t, st, store.Event{Time: t0, Kind: store.EventDeployStarted, Env: "dev", Site: "eu", Snapshot: snapA, Service: "api", Message: "deploying", Attrs: map[string]string{"release": "1"}})
	f := newFakeLadder()
	f.StatusFunc = func(context.Context) (*api.Status, error) { return fixtureStatus(), nil }
	return newTestServer(f, st).handler()
}

// TestOpenAPIAnswersValidate checks every read route's answer, and an
// error answer, against the document's schemas: a field added to an
// answer but not to the document (or the other way round) fails here.
func TestOpenAPIAnswersValidate(t *testing.T) {
	doc := loadOpenAPI(t)
	h := openAPIServer(t)
	cases := []struct {
		path, target string
		code         int
	}{
		{"/api/v1/status", "/api/v1/status", 200},
		{"/api/v1/events", "/api/v1/events", 200},
		{"/api/v1/snapshots", "/api/v1/snapshots", 200},
		{"/api/v1/snapshots/{id}", "/api/v1/snapshots/" + snapA[:8], 200},
		{"/api/v1/releases", "/api/v1/releases?environment=dev", 200},
		{"/api/v1/ladder", "/api/v1/ladder", 200},
		{"/api/v1/snapshots/{id}", "/api/v1/snapshots/XYZ", 400},
		{"/api/v1/events", "/api/v1/events?limit=many", 400},
	}
	for _, c := range cases {
		t.Run(c.target, func(t *testing.T) {
			rec := do(h, "GET", c.target, "")
			if rec.Code != c.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.code, rec.Body)
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(rec.Body.Bytes()))
			if err != nil {
				t.Fatalf("answer is not JSON: %v", err)
			}
			if arr, ok := v.([]any); ok && len(arr) == 0 {
				t.Fatalf("the fixture should make %s answer a non-empty list", c.target)
			}
			s := doc.schema(t, doc.responseSchema(t, c.path, "GET", c.code))
			if err := s.Validate(v); err != nil {
				t.Errorf("the answer does not match openapi.yaml:\n%v\nanswer: %s", err, rec.Body)
			}
		})
	}
}

// TestOpenAPIRoutesAreServed checks that every operation in the document
// reaches a handler: not the API's "no such route" answer and not 405.
func TestOpenAPIRoutesAreServed(t *testing.T) {
	doc := loadOpenAPI(t)
	h := openAPIServer(t)
	var ops []string
	for path, methods := range doc.paths {
		for m := range methods {
			ops = append(ops, m+" "+path)
		}
	}
	sort.Strings(ops)
	for _, op := range ops {
		method, path, _ := strings.Cut(op, " ")
		target := strings.ReplaceAll(path, "{id}", snapA[:8])
		req := httptest.NewRequest(method, target, strings.NewReader("{}"))
		if method == "GET" && strings.HasSuffix(path, "/stream") {
			ctx, cancel := context.WithCancel(req.Context())
			cancel()
			req = req.WithContext(ctx)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusMethodNotAllowed || rec.Code == http.StatusNotFound && strings.Contains(rec.Body.String(), "no such API route") {
			t.Errorf("%s: documented but not served (%d: %s)", op, rec.Code, rec.Body)
		}
	}
}

// TestOpenAPIIsServed: clients fetch the document from the agent itself.
func TestOpenAPIIsServed(t *testing.T) {
	rec := do(openAPIServer(t), "GET", "/api/v1/openapi.yaml", "")
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), openAPI) {
		t.Fatalf("GET /api/v1/openapi.yaml: %d, %d bytes", rec.Code, rec.Body.Len())
	}
}

// TestListsPaginate follows the Link headers through releases and events
// and gets every item exactly once, in order.
func TestListsPaginate(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	putSnapshot(t, st, snapA, t0)
	var relIDs, evIDs []int64
	for i := range 7 {
		r, err := st.CreateRelease(ctx, store.Release{Env: "dev", Site: "eu", Snapshot: snapA, Phase: store.PhaseProgressing, Started: t0})
		if err != nil {
			t.Fatal(err)
		}
		relIDs = append([]int64{r.ID}, relIDs...) // newest first
		e := appendEvent(t, st, store.Event{Time: t0.Add(time.Duration(i) * time.Second), Kind: store.EventDeployStarted, Env: "dev", Site: "eu", Snapshot: snapA, Message: fmt.Sprint("event ", i)})
		evIDs = append(evIDs, e.ID)
	}
	h := newTestServer(statusSource(fixtureStatus()), st).handler()

	follow := func(start, rel string, prepend bool) (ids []int64, pages int) {
		target := start
		for target != "" && pages < 10 {
			rec := do(h, "GET", target, "")
			var page []struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &page); rec.Code != 200 || err != nil {
				t.Fatalf("GET %s: %d %v: %s", target, rec.Code, err, rec.Body)
			}
			var got []int64
			for _, p := range page {
				got = append(got, p.ID)
			}
			if prepend {
				ids = append(got, ids...)
			} else {
				ids = append(ids, got...)
			}
			pages++
			target = ""
			for _, l := range rec.Header().Values("Link") {
				if strings.HasSuffix(l, `rel="`+rel+`"`) {
					target = strings.TrimPrefix(l[:strings.Index(l, ">")], "<")
				}
			}
		}
		return ids, pages
	}
	ids, pages := follow("/api/v1/releases?environment=dev&limit=3", "next", false)
	if fmt.Sprint(ids) != fmt.Sprint(relIDs) || pages != 3 {
		t.Errorf("releases through the pages: %v in %d pages, want %v in 3", ids, pages, relIDs)
	}
	ids, pages = follow("/api/v1/events?limit=3", "prev", true)
	if fmt.Sprint(ids) != fmt.Sprint(evIDs) || pages != 3 {
		t.Errorf("events through the older pages: %v in %d pages, want %v in 3", ids, pages, evIDs)
	}
	// Polling forward from the oldest page's last event reaches the rest.
	ids, _ = follow(fmt.Sprintf("/api/v1/events?limit=3&after=%d", evIDs[2]), "next", false)
	if fmt.Sprint(ids) != fmt.Sprint(evIDs[3:]) {
		t.Errorf("events after %d: %v, want %v", evIDs[2], ids, evIDs[3:])
	}
}

// TestIfMatch: a mutation sent with the entity tag the client read is
// carried out; one sent with a tag the environment has moved past is
// refused with 412 and nothing is done; without If-Match it is not
// conditional.
func TestIfMatch(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	putSnapshot(t, st, snapA, t0)
	f := newFakeLadder()
	f.StatusFunc = func(context.Context) (*api.Status, error) { return fixtureStatus(), nil }
	deployed := 0
	f.DeployFunc = func(context.Context, api.DeployRequest) (*api.DeployResult, error) {
		deployed++
		return &api.DeployResult{Environment: "dev", Snapshot: snapA}, nil
	}
	s := newTestServer(f, st)
	s.env = "dev"
	h := s.handler()

	rec := do(h, "GET", "/api/v1/status", "")
	read := rec.Header().Get("ETag")
	if read == "" {
		t.Fatal("GET /api/v1/status has no ETag")
	}
	if got := do(h, "GET", "/api/v1/releases?environment=dev", "").Header().Get("ETag"); got != read {
		t.Errorf("releases of dev have ETag %q, status %q", got, read)
	}
	lad := decodeAs[api.Ladder](t, do(h, "GET", "/api/v1/ladder", ""), 200)
	for _, e := range lad.Environments {
		if e.ETag == "" {
			t.Errorf("environment %s of the ladder has no etag", e.Name)
		}
	}

	// Someone else starts a release on dev: the tag read before is stale.
	if _, err := st.CreateRelease(ctx, store.Release{Env: "dev", Site: "local", Snapshot: snapA, Phase: store.PhaseProgressing, Started: t0}); err != nil {
		t.Fatal(err)
	}
	body := `{"snapshot": "` + snapA[:8] + `"}`
	wantError(t, do(h, "POST", "/api/v1/deploy", body, "If-Match", read), http.StatusPreconditionFailed, "dev changed since it was read")
	if deployed != 0 {
		t.Fatalf("a deploy with a stale If-Match ran")
	}
	promote := `{"snapshot": "` + snapA[:8] + `", "to": "dev"}`
	wantError(t, do(h, "POST", "/api/v1/promote", promote, "If-Match", read), http.StatusPreconditionFailed, "changed")
	if n := len(f.Calls()); n != 0 {
		t.Fatalf("a promotion with a stale If-Match reached the ladder (%d calls)", n)
	}

	fresh := do(h, "GET", "/api/v1/status", "").Header().Get("ETag")
	if fresh == read {
		t.Fatalf("the ETag did not change with a new release: %s", fresh)
	}
	if rec := do(h, "POST", "/api/v1/deploy", body, "If-Match", fresh); rec.Code != 200 || deployed != 1 {
		t.Fatalf("deploy with the current ETag: %d (deployed %d): %s", rec.Code, deployed, rec.Body)
	}
	if rec := do(h, "POST", "/api/v1/deploy", body, "If-Match", `"other", `+fresh); rec.Code != 200 || deployed != 2 {
		t.Fatalf("deploy with a list holding the current ETag: %d: %s", rec.Code, rec.Body)
	}
	if rec := do(h, "POST", "/api/v1/deploy", body); rec.Code != 200 || deployed != 3 {
		t.Fatalf("deploy without If-Match: %d: %s", rec.Code, rec.Body)
	}
}
