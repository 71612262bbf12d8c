package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
	"github.com/ladderhq/ladder/examples/trading/internal/seed"
	"github.com/ladderhq/ladder/examples/trading/internal/service"
)

func newServer(t *testing.T, env map[string]string) *httptest.Server {
	t.Helper()
	cfg, err := service.LoadConfig("users", service.EnvMap(env))
	if err != nil {
		t.Fatal(err)
	}
	s := service.New(cfg, slog.New(slog.DiscardHandler))
	if err := setup(s); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestListIsSeeded(t *testing.T) {
	srv := newServer(t, map[string]string{"SEED": "7"})
	var users []model.User
	if code := do(t, "GET", srv.URL+"/api/users", "", &users); code != 200 {
		t.Fatalf("code %d", code)
	}
	want := seed.Generate(7).Users
	if len(users) != len(want) || users[0] != want[0] || users[len(users)-1] != want[len(want)-1] {
		t.Errorf("users differ from seed 7")
	}
}

func TestGet(t *testing.T) {
	srv := newServer(t, nil)
	tests := []struct {
		path string
		code int
	}{
		{"/api/users/1", 200},
		{"/api/users/20", 200},
		{"/api/users/21", 404},
		{"/api/users/0", 400},
		{"/api/users/abc", 400},
	}
	for _, tt := range tests {
		var u model.User
		if code := do(t, "GET", srv.URL+tt.path, "", &u); code != tt.code {
			t.Errorf("GET %s = %d, want %d", tt.path, code, tt.code)
		}
	}
	var u model.User
	do(t, "GET", srv.URL+"/api/users/3", "", &u)
	if u != seed.Generate(seed.Default).Users[2] {
		t.Errorf("user 3 = %+v", u)
	}
}

func TestCreate(t *testing.T) {
	srv := newServer(t, nil)
	tests := []struct {
		name, body string
		code       int
	}{
		{"ok", `{"name":"Linus Torvalds","email":"linus@example.com"}`, 201},
		{"duplicate email", `{"name":"Other","email":"LINUS@example.com"}`, 409},
		{"no name", `{"name":" ","email":"x@example.com"}`, 422},
		{"bad email", `{"name":"X","email":"not-an-email"}`, 422},
		{"unknown field", `{"name":"X","email":"x@example.com","admin":true}`, 400},
		{"not json", `name=X`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u model.User
			if code := do(t, "POST", srv.URL+"/api/users", tt.body, &u); code != tt.code {
				t.Fatalf("code = %d, want %d", code, tt.code)
			}
			if tt.code == 201 && (u.ID != seed.NumUsers+1 || u.Name != "Linus Torvalds") {
				t.Errorf("created %+v", u)
			}
		})
	}
	var u model.User
	if code := do(t, "GET", srv.URL+"/api/users/21", "", &u); code != 200 || u.Email != "linus@example.com" {
		t.Errorf("GET new user = %d %+v", code, u)
	}
}

func TestOperationalEndpoints(t *testing.T) {
	srv := newServer(t, map[string]string{"LADDER_SNAPSHOT": "snap-u"})
	var h map[string]string
	if code := do(t, "GET", srv.URL+"/healthz", "", &h); code != 200 || h["service"] != "users" || h["snapshot"] != "snap-u" {
		t.Errorf("healthz = %d %v", code, h)
	}
	do(t, "GET", srv.URL+"/api/users/1", "", nil)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := new(strings.Builder)
	if _, err := io.Copy(buf, resp.Body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `http_requests_total{code="200",method="GET",route="/api/users/{id}"} 1`) {
		t.Errorf("metrics lack the route series:\n%s", buf)
	}
}
