package service

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newTestService(t *testing.T, env map[string]string) *Service {
	t.Helper()
	cfg, err := LoadConfig("users", EnvMap(env))
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, slog.New(slog.DiscardHandler))
}

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestHealthz(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		code     int
		status   string
		snapshot string
	}{
		{"healthy", map[string]string{"LADDER_SNAPSHOT": "s1"}, 200, "ok", "s1"},
		{"fault", map[string]string{"LADDER_SNAPSHOT": "s2", "FAULT_HEALTH": "fail"}, 503, "fail", "s2"},
		// Other faults must not make the health check lie.
		{"errors only", map[string]string{"FAULT_ERROR_RATE": "1", "FAULT_LATENCY": "1h"}, 200, "ok", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestService(t, tt.env)
			for range 3 { // "forever": not just the first probe
				rec := get(t, s.Handler(), "GET", "/healthz")
				if rec.Code != tt.code {
					t.Fatalf("code = %d, want %d", rec.Code, tt.code)
				}
				var b healthBody
				if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
					t.Fatal(err)
				}
				if b.Status != tt.status || b.Service != "users" || b.Snapshot != tt.snapshot {
					t.Errorf("body = %+v", b)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	s := newTestService(t, map[string]string{"LADDER_SNAPSHOT": "abc123", "LADDER_ENVIRONMENT": "prod", "LADDER_SITE": "eu"})
	rec := get(t, s.Handler(), "GET", "/version")
	want := `{"service":"users","snapshot":"abc123","environment":"prod","site":"eu"}`
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != want {
		t.Errorf("GET /version = %d %s, want %s", rec.Code, rec.Body, want)
	}
	// Unset ladder variables are empty strings, not missing fields.
	rec = get(t, newTestService(t, nil).Handler(), "GET", "/version")
	want = `{"service":"users","snapshot":"","environment":"","site":""}`
	if strings.TrimSpace(rec.Body.String()) != want {
		t.Errorf("GET /version = %s, want %s", rec.Body, want)
	}
}

func TestMetricsRecordRouteAndCode(t *testing.T) {
	s := newTestService(t, nil)
	s.HandleFunc("GET /api/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			WriteError(w, http.StatusNotFound, "no such thing")
			return
		}
		io.WriteString(w, "ok") // implicit 200
	})
	s.HandleFunc("POST /api/things", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	s.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {})
	h := s.Handler()

	for _, p := range []string{"/api/things/1", "/api/things/2", "/api/things/missing"} {
		get(t, h, "GET", p)
	}
	get(t, h, "POST", "/api/things")
	get(t, h, "GET", "/")
	get(t, h, "GET", "/healthz") // not instrumented
	get(t, h, "GET", "/version") // not instrumented

	checks := []struct {
		labels []string
		want   float64
	}{
		{[]string{"GET", "/api/things/{id}", "200"}, 2},
		{[]string{"GET", "/api/things/{id}", "404"}, 1},
		{[]string{"POST", "/api/things", "201"}, 1},
		{[]string{"GET", "/", "200"}, 1},
		{[]string{"GET", "/api/things/{id}", "500"}, 0}, // pre-created
	}
	for _, c := range checks {
		if got := counterValue(t, s.Metrics, c.labels[0], c.labels[1], c.labels[2]); got != c.want {
			t.Errorf("http_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	// Raw paths must never become label values.
	if n := seriesCount(t, s.Metrics, "http_requests_total"); n != 7 {
		t.Errorf("http_requests_total has %d series, want 7 (incl. a pre-created 500 per route)", n)
	}
	if n := seriesCount(t, s.Metrics, "http_request_duration_seconds"); n != 3 {
		t.Errorf("http_request_duration_seconds has %d series, want 3", n)
	}

	body := get(t, h, "GET", "/metrics").Body.String()
	for _, want := range []string{
		`http_requests_total{code="404",method="GET",route="/api/things/{id}"} 1`,
		`http_request_duration_seconds_bucket{method="GET",route="/api/things/{id}",le="0.001"}`,
		`http_request_duration_seconds_bucket{method="GET",route="/api/things/{id}",le="5"}`,
		`trading_build_info{`,
		`go_goroutines `,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `route="/healthz"`) || strings.Contains(body, `route="/metrics"`) {
		t.Error("/healthz or /metrics is instrumented")
	}
}

func TestMetricsRecordPanicAs500(t *testing.T) {
	s := newTestService(t, nil)
	s.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	func() {
		defer func() { recover() }()
		get(t, s.Handler(), "GET", "/boom")
	}()
	if got := counterValue(t, s.Metrics, "GET", "/boom", "500"); got != 1 {
		t.Errorf("panics counted = %v, want 1", got)
	}
}

func TestErrorRateInjection(t *testing.T) {
	for _, rate := range []float64{0, 0.01, 0.1, 0.25, 0.5, 1} {
		s := newTestService(t, map[string]string{"FAULT_ERROR_RATE": formatFloat(rate)})
		s.HandleFunc("GET /api/x", func(http.ResponseWriter, *http.Request) {})
		const n = 1000
		failed := 0
		for range n {
			rec := get(t, s.Handler(), "GET", "/api/x")
			switch rec.Code {
			case 500:
				failed++
			case 200:
			default:
				t.Fatalf("unexpected status %d", rec.Code)
			}
		}
		// The sequence is deterministic; allow a small tolerance anyway
		// so the test states the contract, not the algorithm.
		want := rate * n
		if d := float64(failed) - want; d < -5 || d > 5 {
			t.Errorf("rate %v: %d of %d failed, want about %v", rate, failed, n, want)
		}
		// Injected errors are visible in the metrics, as ladder needs.
		if got := counterValue(t, s.Metrics, "GET", "/api/x", "500"); int(got) != failed {
			t.Errorf("rate %v: metrics count %v errors, handler saw %d", rate, got, failed)
		}
		// Operational endpoints are exempt.
		if rec := get(t, s.Handler(), "GET", "/healthz"); rec.Code != 200 {
			t.Errorf("rate %v: /healthz = %d", rate, rec.Code)
		}
	}
}

func formatFloat(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func TestErrorInjectorSpreadsEvenly(t *testing.T) {
	e := &errorInjector{rate: 0.1}
	var got []int
	for i := 1; i <= 30; i++ {
		if e.fail() {
			got = append(got, i)
		}
	}
	if want := []int{10, 20, 30}; !equalInts(got, want) {
		t.Errorf("failures at %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLatencyInjection(t *testing.T) {
	s := newTestService(t, map[string]string{"FAULT_LATENCY": "50ms"})
	s.HandleFunc("GET /api/x", func(http.ResponseWriter, *http.Request) {})
	start := time.Now()
	if rec := get(t, s.Handler(), "GET", "/api/x"); rec.Code != 200 {
		t.Fatalf("code %d", rec.Code)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("request took %v, want at least 50ms", d)
	}
	start = time.Now()
	get(t, s.Handler(), "GET", "/healthz")
	if d := time.Since(start); d >= 50*time.Millisecond {
		t.Errorf("/healthz took %v: latency must not apply to it", d)
	}
}

func TestSplitPattern(t *testing.T) {
	tests := []struct{ in, method, route string }{
		{"GET /api/users/{id}", "GET", "/api/users/{id}"},
		{"POST /api/trades", "POST", "/api/trades"},
		{"GET /{$}", "GET", "/"},
		{"/plain", "", "/plain"},
	}
	for _, tt := range tests {
		m, r := splitPattern(tt.in)
		if m != tt.method || r != tt.route {
			t.Errorf("splitPattern(%q) = %q, %q", tt.in, m, r)
		}
	}
}

func TestEnv(t *testing.T) {
	s := newTestService(t, map[string]string{"USERS_URL": "http://u:1"})
	if got := s.Env("USERS_URL", "x"); got != "http://u:1" {
		t.Errorf("Env = %q", got)
	}
	if got := s.Env("TRADES_URL", "http://trades:8080"); got != "http://trades:8080" {
		t.Errorf("Env default = %q", got)
	}
}

func TestDecodeJSON(t *testing.T) {
	type body struct{ Name string }
	tests := []struct {
		in string
		ok bool
	}{
		{`{"Name":"x"}`, true},
		{`{"Name":"x","Extra":1}`, false},
		{`{"Name":"x"}{"Name":"y"}`, false},
		{`not json`, false},
	}
	for _, tt := range tests {
		var b body
		req := httptest.NewRequest("POST", "/", strings.NewReader(tt.in))
		err := DecodeJSON(httptest.NewRecorder(), req, &b)
		if (err == nil) != tt.ok {
			t.Errorf("DecodeJSON(%s) error = %v", tt.in, err)
		}
	}
}
