package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
	"github.com/ladderhq/ladder/examples/trading/internal/seed"
	"github.com/ladderhq/ladder/examples/trading/internal/service"
)

// fakeUsers serves GET /api/users/{id} for IDs 1..20, or 500 when down.
type fakeUsers struct {
	mu   sync.Mutex
	down bool
}

func (f *fakeUsers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	id, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/api/users/"))
	switch {
	case down:
		service.WriteError(w, 500, "boom")
	case err != nil || id < 1 || id > seed.NumUsers:
		service.WriteError(w, 404, "user not found")
	default:
		service.WriteJSON(w, 200, model.User{ID: id, Name: "U"})
	}
}

// fakeNotifications records what it is sent, or answers 503 when down.
type fakeNotifications struct {
	mu   sync.Mutex
	down bool
	got  []model.NewNotification
}

func (f *fakeNotifications) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != "POST" || r.URL.Path != "/api/notifications" {
		http.NotFound(w, r)
		return
	}
	if f.down {
		service.WriteError(w, 503, "unavailable")
		return
	}
	var n model.NewNotification
	json.NewDecoder(r.Body).Decode(&n)
	f.got = append(f.got, n)
	service.WriteJSON(w, 201, model.Notification{ID: len(f.got), User: n.User, TradeID: n.TradeID, Message: n.Message})
}

func (f *fakeNotifications) sent() []model.NewNotification {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]model.NewNotification(nil), f.got...)
}

func (f *fakeNotifications) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeUsers) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

type fixture struct {
	srv   *httptest.Server
	users *fakeUsers
	notes *fakeNotifications
	log   *bytes.Buffer
	svc   *service.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{users: &fakeUsers{}, notes: &fakeNotifications{}, log: new(bytes.Buffer)}
	us := httptest.NewServer(f.users)
	ns := httptest.NewServer(f.notes)
	t.Cleanup(us.Close)
	t.Cleanup(ns.Close)
	cfg, err := service.LoadConfig("trades", service.EnvMap(map[string]string{
		"USERS_URL": us.URL, "NOTIFICATIONS_URL": ns.URL,
	}))
	if err != nil {
		t.Fatal(err)
	}
	f.svc = service.New(cfg, slog.New(slog.NewTextHandler(f.log, nil)))
	if err := setup(f.svc); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.svc.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
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

func TestQuotesAreSeeded(t *testing.T) {
	f := newFixture(t)
	var got []model.Quote
	if code := f.do(t, "GET", "/api/quotes", "", &got); code != 200 {
		t.Fatalf("code %d", code)
	}
	want := seed.Generate(seed.Default).Quotes
	if len(got) != len(want) {
		t.Fatalf("%d quotes, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Symbol != want[i].Symbol || got[i].Price != want[i].Price || !got[i].AsOf.Equal(want[i].AsOf) {
			t.Errorf("quote %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestListTrades(t *testing.T) {
	f := newFixture(t)
	var all []model.Trade
	f.do(t, "GET", "/api/trades", "", &all)
	if len(all) != seed.NumTrades || all[0].ID != seed.NumTrades {
		t.Fatalf("all trades: %d, first ID %d", len(all), all[0].ID)
	}
	user := all[0].User
	var mine []model.Trade
	f.do(t, "GET", "/api/trades?user="+strconv.Itoa(user), "", &mine)
	if len(mine) == 0 {
		t.Fatal("no trades for a user who has some")
	}
	for _, tr := range mine {
		if tr.User != user {
			t.Errorf("trade of user %d in user %d's list", tr.User, user)
		}
	}
	if code := f.do(t, "GET", "/api/trades?user=abc", "", nil); code != 400 {
		t.Errorf("bad user: %d, want 400", code)
	}
}

func TestPlaceTrade(t *testing.T) {
	f := newFixture(t)
	quotes := seed.Generate(seed.Default).Quotes
	var tr model.Trade
	code := f.do(t, "POST", "/api/trades", `{"user":3,"symbol":"nvda","side":"BUY","qty":10}`, &tr)
	if code != 201 {
		t.Fatalf("code %d", code)
	}
	var nvda model.Money
	for _, q := range quotes {
		if q.Symbol == "NVDA" {
			nvda = q.Price
		}
	}
	if tr.ID != seed.NumTrades+1 || tr.User != 3 || tr.Symbol != "NVDA" || tr.Side != model.Buy || tr.Qty != 10 || tr.Price != nvda {
		t.Errorf("trade = %+v", tr)
	}
	if sent := f.notes.sent(); len(sent) != 1 || sent[0].TradeID != tr.ID || sent[0].User != 3 || sent[0].Message != tr.FillMessage() {
		t.Errorf("notifications sent: %+v", sent)
	}
	var mine []model.Trade
	f.do(t, "GET", "/api/trades?user=3", "", &mine)
	if len(mine) == 0 || mine[0].ID != tr.ID {
		t.Errorf("new trade is not first in user 3's list")
	}
}

func TestPlaceTradeRejects(t *testing.T) {
	tests := []struct {
		name, body string
		code       int
	}{
		{"unknown user", `{"user":99,"symbol":"AAPL","side":"buy","qty":1}`, 422},
		{"no user", `{"symbol":"AAPL","side":"buy","qty":1}`, 422},
		{"unknown symbol", `{"user":1,"symbol":"TSLA","side":"buy","qty":1}`, 422},
		{"bad side", `{"user":1,"symbol":"AAPL","side":"hold","qty":1}`, 422},
		{"zero qty", `{"user":1,"symbol":"AAPL","side":"sell","qty":0}`, 422},
		{"huge qty", `{"user":1,"symbol":"AAPL","side":"sell","qty":10001}`, 422},
		{"unknown field", `{"user":1,"symbol":"AAPL","side":"sell","qty":1,"price":1}`, 400},
		{"not json", `user=1`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if code := f.do(t, "POST", "/api/trades", tt.body, nil); code != tt.code {
				t.Errorf("code = %d, want %d", code, tt.code)
			}
			if len(f.notes.sent()) != 0 {
				t.Error("a rejected trade was notified")
			}
			var all []model.Trade
			f.do(t, "GET", "/api/trades", "", &all)
			if len(all) != seed.NumTrades {
				t.Error("a rejected trade was recorded")
			}
		})
	}
}

func TestPlaceTradeUsersDown(t *testing.T) {
	f := newFixture(t)
	f.users.setDown(true)
	if code := f.do(t, "POST", "/api/trades", `{"user":1,"symbol":"AAPL","side":"buy","qty":1}`, nil); code != 502 {
		t.Errorf("code = %d, want 502", code)
	}
}

func TestPlaceTradeNotificationFailureIsNotFatal(t *testing.T) {
	f := newFixture(t)
	f.notes.setDown(true)
	var tr model.Trade
	if code := f.do(t, "POST", "/api/trades", `{"user":1,"symbol":"AAPL","side":"sell","qty":2}`, &tr); code != 201 {
		t.Fatalf("code = %d, want 201", code)
	}
	if !strings.Contains(f.log.String(), "notification failed") {
		t.Errorf("failure not logged: %s", f.log)
	}
	rec := httptest.NewRecorder()
	f.svc.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		"trading_notifications_failed_total 1",
		`trading_trades_placed_total{side="sell",symbol="AAPL"} 1`,
		`http_requests_total{code="201",method="POST",route="/api/trades"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestSetupRejectsBadURL(t *testing.T) {
	cfg, _ := service.LoadConfig("trades", service.EnvMap(map[string]string{"USERS_URL": "users:8080"}))
	if err := setup(service.New(cfg, slog.New(slog.DiscardHandler))); err == nil || !strings.Contains(err.Error(), "USERS_URL") {
		t.Errorf("setup error = %v", err)
	}
}
