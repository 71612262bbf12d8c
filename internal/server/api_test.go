package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
)

func TestHealthz(t *testing.T) {
	rec := do(New(Options{Auth: testAuth, Hosts: testHosts}), "GET", "/healthz", "")
	if rec.Code != 200 || rec.Body.String() != "ok" {
		t.Fatalf("GET /healthz = %d %q, want 200 \"ok\"", rec.Code, rec.Body)
	}
}

func TestStatus(t *testing.T) {
	h := newTestServer(statusSource(fixtureStatus()), nil).handler()
	got := decodeAs[api.Status](t, do(h, "GET", "/api/v1/status", ""), 200)
	if got.Stack != "shop" || len(got.Sites) != 1 || got.Sites[0].Snapshot != snapA {
		t.Fatalf("status = %+v", got)
	}
	if svc := got.Sites[0].Services[0]; svc.Name != "api" || len(svc.History) != 12 || svc.Telemetry == nil {
		t.Errorf("service api = %+v", svc)
	}
	if len(got.Events) != 4 {
		t.Errorf("events = %d, want 4", len(got.Events))
	}
}

func TestStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{errors.New("target unreachable"), 500},
		{fmt.Errorf("wrapped: %w", store.ErrNotFound), 404},
		{context.DeadlineExceeded, 504},
	} {
		src := &fakeSource{StatusFunc: func(context.Context) (*api.Status, error) { return nil, tc.err }}
		wantError(t, do(New(Options{Auth: testAuth, Hosts: testHosts, Source: src}), "GET", "/api/v1/status", ""), tc.code, tc.err.Error())
	}
	// A source returning nothing at all is a bug, not a crash.
	src := &fakeSource{StatusFunc: func(context.Context) (*api.Status, error) { return nil, nil }}
	wantError(t, do(New(Options{Auth: testAuth, Hosts: testHosts, Source: src}), "GET", "/api/v1/status", ""), 500, "no status")
	// Without a source or store the routes say so.
	wantError(t, do(New(Options{Auth: testAuth, Hosts: testHosts}), "GET", "/api/v1/status", ""), 503, "no source")
	wantError(t, do(New(Options{Auth: testAuth, Hosts: testHosts}), "GET", "/api/v1/events", ""), 503, "no store")
}

func TestEvents(t *testing.T) {
	st := openStore(t)
	putSnapshot(t, st, snapA, t0)
	putSnapshot(t, st, snapB, t0.Add(time.Minute))
	for i := range 10 {
		snap, svc := snapA, "api"
		if i%2 == 1 {
			snap, svc = snapB, "worker"
		}
		appendEvent(t, st, store.Event{Time: t0.Add(time.Duration(i) * time.Second), Kind: store.EventHealthChanged,
			Env: "dev", Site: "local", Snapshot: snap, Service: svc, Message: fmt.Sprintf("event %d", i)})
	}
	h := newTestServer(nil, st).handler()

	ids := func(evs []store.Event) (out []int64) {
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  string
	}{
		{"", "[1 2 3 4 5 6 7 8 9 10]"},
		{"?limit=3", "[8 9 10]"},
		{"?limit=0", "[1 2 3 4 5 6 7 8 9 10]"}, // the default, not "everything"
		{"?limit=99999", "[1 2 3 4 5 6 7 8 9 10]"},
		{"?after=7", "[8 9 10]"},
		{"?after=2&limit=2", "[3 4]"},
		{"?service=worker", "[2 4 6 8 10]"},
		{"?snapshot=" + snapA, "[1 3 5 7 9]"},
		{"?snapshot=" + snapB[:6] + "&limit=2", "[8 10]"}, // prefixes are resolved
		{"?service=nobody", "[]"},
	} {
		got := decodeAs[[]store.Event](t, do(h, "GET", "/api/v1/events"+tc.query, ""), 200)
		if s := fmt.Sprint(ids(got)); s != tc.want {
			t.Errorf("events%s = %s, want %s", tc.query, s, tc.want)
		}
	}
	// Empty lists are [], not null.
	if body := do(h, "GET", "/api/v1/events?service=nobody", "").Body.String(); strings.TrimSpace(body) != "[]" {
		t.Errorf("empty list body = %q, want []", body)
	}
	wantError(t, do(h, "GET", "/api/v1/events?after=x", ""), 400, "after")
	wantError(t, do(h, "GET", "/api/v1/events?limit=-1", ""), 400, "limit")
	wantError(t, do(h, "GET", "/api/v1/events?snapshot=zz", ""), 400, "snapshot")
	wantError(t, do(h, "GET", "/api/v1/events?snapshot=ffff", ""), 404, "not found")
}

func TestSnapshots(t *testing.T) {
	st := openStore(t)
	amb1, amb2 := "abcd1"+strings.Repeat("0", 59), "abcd2"+strings.Repeat("0", 59)
	putSnapshot(t, st, snapA, t0)
	putSnapshot(t, st, amb1, t0.Add(time.Minute))
	putSnapshot(t, st, amb2, t0.Add(2*time.Minute))
	h := newTestServer(nil, st).handler()

	list := decodeAs[[]snapshot.Snapshot](t, do(h, "GET", "/api/v1/snapshots", ""), 200)
	if len(list) != 3 || list[0].ID != amb2 {
		t.Errorf("snapshots = %d, first %s; want 3, newest first", len(list), list[0].ID)
	}
	// A full page links to the next, which starts after its last.
	first := do(h, "GET", "/api/v1/snapshots?limit=2", "")
	if l := decodeAs[[]snapshot.Snapshot](t, first, 200); len(l) != 2 || l[1].ID != amb1 {
		t.Errorf("limit=2 gave %d", len(l))
	}
	next := first.Header().Get("Link")
	if want := `</api/v1/snapshots?before=` + amb1 + `&limit=2>; rel="next"`; next != want {
		t.Errorf("Link = %q, want %q", next, want)
	}
	rest := do(h, "GET", strings.TrimSuffix(strings.TrimPrefix(next, "<"), `>; rel="next"`), "")
	if l := decodeAs[[]snapshot.Snapshot](t, rest, 200); len(l) != 1 || l[0].ID != snapA || rest.Header().Get("Link") != "" {
		t.Errorf("the next page: %d snapshots, Link %q; want snapA alone and no Link", len(l), rest.Header().Get("Link"))
	}
	if l := decodeAs[[]snapshot.Snapshot](t, do(h, "GET", "/api/v1/snapshots?before="+snapA[:8], ""), 200); len(l) != 0 {
		t.Errorf("before the oldest (by prefix) gave %d", len(l))
	}
	wantError(t, do(h, "GET", "/api/v1/snapshots?before=0000", ""), 404, "not found")
	wantError(t, do(h, "GET", "/api/v1/snapshots?before=abcd", ""), 409, "ambiguous")
	for _, id := range []string{snapA, snapA[:12], snapA[:4]} {
		got := decodeAs[snapshot.Snapshot](t, do(h, "GET", "/api/v1/snapshots/"+id, ""), 200)
		if got.ID != snapA || got.Artifacts["api"].Digest != digestA {
			t.Errorf("snapshot %s = %+v", id, got)
		}
	}
	wantError(t, do(h, "GET", "/api/v1/snapshots/abcd", ""), 409, "ambiguous")
	wantError(t, do(h, "GET", "/api/v1/snapshots/0000", ""), 404, "not found")
	wantError(t, do(h, "GET", "/api/v1/snapshots/xyz!", ""), 400, "not a snapshot ID")
	wantError(t, do(h, "GET", "/api/v1/snapshots/abc", ""), 400, "not a snapshot ID")
	wantError(t, do(h, "GET", "/api/v1/releases?snapshot=abcd", ""), 409, "ambiguous")
}

func TestReleases(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	for i, site := range []string{"local", "local", "edge"} {
		r, err := st.CreateRelease(ctx, store.Release{Env: "dev", Site: site, Snapshot: snapA,
			Phase: store.PhaseProgressing, Started: t0.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.FinishRelease(ctx, r.ID, store.PhaseSucceeded, "", t0.Add(time.Duration(i)*time.Minute+time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateRelease(ctx, store.Release{Env: "prod", Site: "local", Snapshot: snapA, Phase: store.PhaseProgressing, Started: t0}); err != nil {
		t.Fatal(err)
	}
	h := newTestServer(nil, st).handler()
	for query, want := range map[string]int{"": 4, "?environment=dev": 3, "?environment=dev&site=local": 2, "?limit=1": 1, "?site=none": 0} {
		got := decodeAs[[]store.Release](t, do(h, "GET", "/api/v1/releases"+query, ""), 200)
		if len(got) != want {
			t.Errorf("releases%s = %d, want %d", query, len(got), want)
		}
	}
	got := decodeAs[[]store.Release](t, do(h, "GET", "/api/v1/releases?environment=dev", ""), 200)
	if got[0].Site != "edge" || got[0].Phase != store.PhaseSucceeded {
		t.Errorf("newest release = %+v, want edge succeeded", got[0])
	}
	wantError(t, do(h, "GET", "/api/v1/releases?limit=many", ""), 400, "limit")
}

func TestDeploy(t *testing.T) {
	var got api.DeployRequest
	src := &fakeSource{DeployFunc: func(_ context.Context, req api.DeployRequest) (*api.DeployResult, error) {
		got = req
		switch req.Snapshot {
		case "dead":
			return nil, fmt.Errorf("resolve dead: %w", store.ErrNotFound)
		case "abcd":
			return nil, fmt.Errorf("resolve abcd: %w", store.ErrAmbiguous)
		case "bad0":
			return nil, errors.New("target exploded")
		case "0a0a":
			return nil, &promote.AdmissionError{Env: "prod", Reason: "the rung is gated"}
		case "fa11":
			return &api.DeployResult{Environment: "dev", Site: "local", Snapshot: snapB, Release: 9,
				Error: "worker never became healthy", LastLines: []string{"panic: boom"}}, nil
		}
		return &api.DeployResult{Environment: "dev", Site: "local", Snapshot: snapA, Release: 8,
			Changed: []string{"api"}, Plan: "replace api", Duration: 1500 * time.Millisecond}, nil
	}}
	h := newTestServer(src, nil).handler()
	const ctJSON = "Content-Type"

	res := decodeAs[api.DeployResult](t, do(h, "POST", "/api/v1/deploy", `{"snapshot":"`+snapA[:12]+`"}`, ctJSON, "application/json"), 200)
	if got.Snapshot != snapA[:12] {
		t.Errorf("source got %+v", got)
	}
	if res.Snapshot != snapA || res.Release != 8 || res.Duration != 1500*time.Millisecond || res.Changed[0] != "api" {
		t.Errorf("result = %+v", res)
	}
	// A failed release is an answer, not an API error.
	res = decodeAs[api.DeployResult](t, do(h, "POST", "/api/v1/deploy", `{"snapshot":"fa11"}`), 200)
	if res.Error == "" || len(res.LastLines) != 1 || res.Changed == nil {
		t.Errorf("failed release = %+v", res)
	}

	wantError(t, do(h, "POST", "/api/v1/deploy", `{"snapshot":"dead"}`), 404, "not found")
	wantError(t, do(h, "POST", "/api/v1/deploy", `{"snapshot":"abcd"}`), 409, "ambiguous")
	wantError(t, do(h, "POST", "/api/v1/deploy", `{"snapshot":"bad0"}`), 500, "target exploded")
	if e := wantError(t, do(h, "POST", "/api/v1/deploy", `{"snapshot":"0a0a","grant":"t0k3n"}`), 409, "prod refuses this snapshot: the rung is gated"); e.Code != api.CodeNotAdmitted {
		t.Errorf("a refusal by the rung's admission has code %q, want %q", e.Code, api.CodeNotAdmitted)
	}
	if got.Grant != "t0k3n" {
		t.Errorf("the grant reached the agent as %q", got.Grant)
	}
	wantError(t, do(h, "POST", "/api/v1/deploy", ``), 400, "empty")
	wantError(t, do(h, "POST", "/api/v1/deploy", `{"snapshot":`), 400, "malformed")
	wantError(t, do(h, "POST", "/api/v1/deploy", `{"snapshot":"abcd","force":true}`), 400, "unknown field")
	wantError(t, do(h, "POST", "/api/v1/deploy", `{}`), 400, "required")
	wantError(t, do(h, "POST", "/api/v1/deploy", `{"snapshot":"HEAD~1"}`), 400, "not a snapshot")
	wantError(t, do(h, "POST", "/api/v1/deploy", `{"snapshot":"abcd"} {}`), 400, "more than one")
	wantError(t, do(h, "GET", "/api/v1/deploy", ``), 405, "not allowed")
}

func TestDownCallsShutdownAfterAnswering(t *testing.T) {
	called := make(chan context.Context, 2)
	src := &fakeSource{ShutdownFunc: func(ctx context.Context) error {
		called <- ctx
		return nil
	}}
	h := newTestServer(src, nil).handler()
	rec := do(h, "POST", "/api/v1/down", "")
	ans := decodeAs[downAnswer](t, rec, 202)
	if ans.Status != "shutting down" {
		t.Errorf("answer = %+v", ans)
	}
	select {
	case ctx := <-called:
		// The request is over by now; the teardown must not be cancelled with it.
		if ctx.Err() != nil {
			t.Errorf("Shutdown got a cancelled context: %v", ctx.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown was not called")
	}
	// A second request does not start a second teardown.
	decodeAs[downAnswer](t, do(h, "POST", "/api/v1/down", ""), 202)
	select {
	case <-called:
		t.Error("Shutdown called twice")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestRoutingErrorsAreJSON(t *testing.T) {
	h := newTestServer(statusSource(fixtureStatus()), openStore(t)).handler()
	wantError(t, do(h, "GET", "/api/v1/nope", ""), 404, "no such API route")
	rec := do(h, "DELETE", "/api/v1/status", "")
	wantError(t, rec, 405, "not allowed")
	if allow := rec.Header().Get("Allow"); !strings.Contains(allow, "GET") {
		t.Errorf("Allow = %q", allow)
	}
	// Unclean paths are redirected, not refused.
	if rec := do(h, "GET", "/api//v1/status", ""); rec.Code/100 != 3 {
		t.Errorf("GET /api//v1/status = %d, want a redirect", rec.Code)
	}
	// Outside the API the mux's own pages are fine.
	if rec := do(h, "GET", "/nope", ""); rec.Code != 404 {
		t.Errorf("GET /nope = %d", rec.Code)
	}
}

func TestPanicIsA500WithoutDetails(t *testing.T) {
	src := &fakeSource{StatusFunc: func(context.Context) (*api.Status, error) { panic("secret internals") }}
	rec := do(New(Options{Auth: testAuth, Hosts: testHosts, Source: src}), "GET", "/api/v1/status", "")
	e := wantError(t, rec, 500, "internal error")
	if strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Errorf("panic leaked: %+v", e)
	}
	// The dashboard is covered by the same guard.
	if rec := do(New(Options{Auth: testAuth, Hosts: testHosts, Source: src}), "GET", "/", ""); rec.Code != 500 || strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("GET / after panic = %d %q", rec.Code, rec.Body)
	}
}

func TestCrossOriginWritesRefused(t *testing.T) {
	src := &fakeSource{ShutdownFunc: func(context.Context) error { return nil }}
	h := newTestServer(src, nil).handler()
	wantError(t, do(h, "POST", "/api/v1/down", "", "Sec-Fetch-Site", "cross-site"), http.StatusForbidden, "cross-origin")
	wantError(t, do(h, "POST", "/api/v1/deploy", `{"snapshot":"abcd"}`, "Origin", "https://evil.example"), http.StatusForbidden, "cross-origin")
	// Same-origin browser requests (the dashboard) pass.
	decodeAs[downAnswer](t, do(h, "POST", "/api/v1/down", "", "Sec-Fetch-Site", "same-origin"), 202)
}
