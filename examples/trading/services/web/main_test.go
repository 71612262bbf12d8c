package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
	"github.com/ladderhq/ladder/examples/trading/internal/seed"
	"github.com/ladderhq/ladder/examples/trading/internal/service"
)

// backend fakes both the users and the trades API from the seed data.
type backend struct {
	data *seed.Data

	mu       sync.Mutex
	down     bool   // answer 500 to everything
	reject   string // if set, POST /api/trades answers 422 with this
	received []model.TradeRequest
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		service.WriteError(w, 500, "fault injection: simulated internal error")
		return
	}
	user, _ := strconv.Atoi(r.URL.Query().Get("user"))
	switch {
	case r.URL.Path == "/api/users":
		service.WriteJSON(w, 200, b.data.Users)
	case strings.HasPrefix(r.URL.Path, "/api/users/"):
		id, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/api/users/"))
		if id < 1 || id > len(b.data.Users) {
			service.WriteError(w, 404, "user %d not found", id)
			return
		}
		service.WriteJSON(w, 200, b.data.Users[id-1])
	case r.URL.Path == "/api/quotes":
		service.WriteJSON(w, 200, b.data.Quotes)
	case r.URL.Path == "/api/trades" && r.Method == "GET":
		out := []model.Trade{}
		for i := len(b.data.Trades) - 1; i >= 0; i-- {
			if t := b.data.Trades[i]; user == 0 || t.User == user {
				out = append(out, t)
			}
		}
		service.WriteJSON(w, 200, out)
	case r.URL.Path == "/api/trades" && r.Method == "POST":
		var req model.TradeRequest
		json.NewDecoder(r.Body).Decode(&req)
		b.received = append(b.received, req)
		if b.reject != "" {
			service.WriteError(w, 422, "%s", b.reject)
			return
		}
		service.WriteJSON(w, 201, model.Trade{ID: 101, User: req.User, Symbol: req.Symbol, Side: req.Side, Qty: req.Qty, Price: 100})
	default:
		http.NotFound(w, r)
	}
}

func (b *backend) set(f func(*backend)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func (b *backend) trades() []model.TradeRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]model.TradeRequest(nil), b.received...)
}

type fixture struct {
	web *httptest.Server
	be  *backend
	svc *service.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	be := &backend{data: seed.Generate(seed.Default)}
	bs := httptest.NewServer(be)
	t.Cleanup(bs.Close)
	cfg, err := service.LoadConfig("web", service.EnvMap(map[string]string{
		"USERS_URL": bs.URL, "TRADES_URL": bs.URL,
		"LADDER_SNAPSHOT": "snap-web-1", "LADDER_ENVIRONMENT": "staging",
	}))
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(cfg, slog.New(slog.DiscardHandler))
	if err := setup(svc); err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(svc.Handler())
	t.Cleanup(web.Close)
	return &fixture{web: web, be: be, svc: svc}
}

// noRedirect lets tests see the 303 itself.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (f *fixture) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := noRedirect.Get(f.web.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) post(t *testing.T, form url.Values) *http.Response {
	t.Helper()
	resp, err := noRedirect.PostForm(f.web.URL+"/trades", form)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestHome(t *testing.T) {
	f := newFixture(t)
	code, page := f.get(t, "/")
	if code != 200 {
		t.Fatalf("GET / = %d: %s", code, page)
	}
	d := f.be.data
	last := d.Trades[len(d.Trades)-1]
	for _, want := range []string{
		`<code id="snapshot">snap-web-1</code>`,
		"staging",
		d.Users[0].Name,
		d.Users[len(d.Users)-1].Name,
		`href="/users/1"`,
		"#" + strconv.Itoa(last.ID) + " ",
		"AAPL", "MSFT", "NVDA",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	if code, _ := f.get(t, "/nope"); code != 404 {
		t.Errorf("GET /nope = %d, want 404", code)
	}
}

func TestUserPage(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path string
		code int
		want string
	}{
		{"/users/1", 200, f.be.data.Users[0].Name},
		{"/users/1", 200, `action="/trades"`},
		{"/users/1?placed=101", 200, "Trade #101 placed."},
		{"/users/99", 404, "No such user."},
		{"/users/abc", 404, "No such user."},
	}
	for _, tt := range tests {
		code, page := f.get(t, tt.path)
		if code != tt.code || !strings.Contains(page, tt.want) {
			t.Errorf("GET %s = %d, want %d with %q", tt.path, code, tt.code, tt.want)
		}
		if !strings.Contains(page, "snap-web-1") {
			t.Errorf("GET %s: no snapshot in footer", tt.path)
		}
	}
}

func TestPlaceTrade(t *testing.T) {
	f := newFixture(t)
	resp := f.post(t, url.Values{"user": {"3"}, "symbol": {"MSFT"}, "side": {"sell"}, "qty": {"7"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /trades = %d: %s", resp.StatusCode, body(t, resp))
	}
	if loc := resp.Header.Get("Location"); loc != "/users/3?placed=101" {
		t.Errorf("Location = %q", loc)
	}
	want := model.TradeRequest{User: 3, Symbol: "MSFT", Side: model.Sell, Qty: 7}
	if got := f.be.trades(); len(got) != 1 || got[0] != want {
		t.Errorf("trades API received %+v, want %+v", got, want)
	}
}

func TestPlaceTradeErrors(t *testing.T) {
	tests := []struct {
		name   string
		form   url.Values
		setup  func(*backend)
		code   int
		want   string
		posted bool // whether the trades API should have been called
	}{
		{"rejected by API", url.Values{"user": {"3"}, "symbol": {"AAPL"}, "side": {"buy"}, "qty": {"99999"}},
			func(b *backend) { b.reject = "qty must be between 1 and 10000" }, 422, "Trade rejected: qty must be between 1 and 10000", true},
		{"qty not a number", url.Values{"user": {"3"}, "symbol": {"AAPL"}, "side": {"buy"}, "qty": {"lots"}},
			nil, 422, "Quantity must be a whole number.", false},
		{"no user", url.Values{"symbol": {"AAPL"}, "side": {"buy"}, "qty": {"1"}},
			nil, 400, "The form names no user.", false},
		{"trades down", url.Values{"user": {"3"}, "symbol": {"AAPL"}, "side": {"buy"}, "qty": {"1"}},
			func(b *backend) { b.down = true }, 502, "the trade was not placed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				f.be.set(tt.setup)
			}
			resp := f.post(t, tt.form)
			page := body(t, resp)
			if resp.StatusCode != tt.code || !strings.Contains(page, tt.want) {
				t.Errorf("POST = %d, want %d with %q; page:\n%s", resp.StatusCode, tt.code, tt.want, page)
			}
			if got := len(f.be.trades()) > 0; got != tt.posted {
				t.Errorf("trades API called = %v, want %v", got, tt.posted)
			}
		})
	}
}

func TestUpstreamDownIs502(t *testing.T) {
	f := newFixture(t)
	f.be.set(func(b *backend) { b.down = true })
	for _, p := range []string{"/", "/users/1"} {
		if code, page := f.get(t, p); code != 502 || !strings.Contains(page, "unavailable") {
			t.Errorf("GET %s = %d, want 502", p, code)
		}
	}
	// The frontend itself is still healthy.
	if code, _ := f.get(t, "/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	_, metrics := f.get(t, "/metrics")
	for _, want := range []string{
		`http_requests_total{code="502",method="GET",route="/"} 1`,
		`http_requests_total{code="502",method="GET",route="/users/{id}"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestTemplatesParse(t *testing.T) {
	tm, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if tm[p] == nil || tm[p].Lookup("content") == nil || tm[p].Lookup("layout") == nil {
			t.Errorf("page %s is incomplete", p)
		}
	}
}
