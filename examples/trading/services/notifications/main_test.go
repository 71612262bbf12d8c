package main

import (
	"encoding/json"
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
	cfg, err := service.LoadConfig("notifications", service.EnvMap(env))
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

func TestListSeededForUser(t *testing.T) {
	srv := newServer(t, nil)
	d := seed.Generate(seed.Default)
	user := d.Trades[0].User
	var got []model.Notification
	if code := do(t, "GET", srv.URL+"/api/notifications?user="+itoa(user), "", &got); code != 200 {
		t.Fatalf("code %d", code)
	}
	want := 0
	for _, n := range d.Notifications {
		if n.User == user {
			want++
		}
	}
	if len(got) != want || want == 0 {
		t.Fatalf("got %d notifications for user %d, want %d", len(got), user, want)
	}
	for i, n := range got {
		if n.User != user {
			t.Errorf("notification for user %d in user %d's list", n.User, user)
		}
		if i > 0 && n.ID > got[i-1].ID {
			t.Errorf("not newest first: %d after %d", n.ID, got[i-1].ID)
		}
	}

	var all []model.Notification
	do(t, "GET", srv.URL+"/api/notifications", "", &all)
	if len(all) != seed.NumTrades {
		t.Errorf("all = %d, want %d", len(all), seed.NumTrades)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestListBadUser(t *testing.T) {
	srv := newServer(t, nil)
	for _, q := range []string{"x", "0", "-3"} {
		if code := do(t, "GET", srv.URL+"/api/notifications?user="+q, "", nil); code != 400 {
			t.Errorf("user=%s: code %d, want 400", q, code)
		}
	}
	var none []model.Notification
	do(t, "GET", srv.URL+"/api/notifications?user=9999", "", &none)
	if none == nil || len(none) != 0 {
		t.Errorf("unknown user should get an empty list, got %v", none)
	}
}

func TestCreate(t *testing.T) {
	srv := newServer(t, nil)
	tests := []struct {
		name, body string
		code       int
	}{
		{"ok", `{"user":5,"trade_id":101,"message":"Trade #101 filled"}`, 201},
		{"no trade id", `{"user":5,"message":"Welcome"}`, 201},
		{"no user", `{"message":"hi"}`, 422},
		{"empty message", `{"user":5,"message":"  "}`, 422},
		{"too long", `{"user":5,"message":"` + strings.Repeat("x", maxMessage+1) + `"}`, 422},
		{"bad json", `{`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := do(t, "POST", srv.URL+"/api/notifications", tt.body, nil); code != tt.code {
				t.Errorf("code = %d, want %d", code, tt.code)
			}
		})
	}
	var got []model.Notification
	do(t, "GET", srv.URL+"/api/notifications?user=5", "", &got)
	if len(got) < 2 || got[0].Message != "Welcome" || got[1].TradeID != 101 || got[0].ID != seed.NumTrades+2 {
		t.Errorf("newest notifications for user 5: %+v", got[:min(2, len(got))])
	}
}
