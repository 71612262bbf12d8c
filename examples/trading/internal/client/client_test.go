package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
)

func TestNewValidatesURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://users:8080", true},
		{"https://users.example.com/", true},
		{"users:8080", false},
		{"ftp://users", false},
		{"http://", false},
		{"", false},
	}
	for _, tt := range tests {
		_, err := New(tt.url, nil)
		if (err == nil) != tt.ok {
			t.Errorf("New(%q) error = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
	c, _ := New("http://users:8080/", nil)
	if c.BaseURL() != "http://users:8080" {
		t.Errorf("BaseURL = %q", c.BaseURL())
	}
}

func TestCalls(t *testing.T) {
	var gotPath, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.Method + " " + r.URL.RequestURI()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/users/404":
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":"user 404 not found"}`)
		case "/api/trades":
			if r.Method == "POST" {
				var req model.TradeRequest
				json.NewDecoder(r.Body).Decode(&req)
				b, _ := json.Marshal(req)
				gotBody = string(b)
				w.WriteHeader(201)
				fmt.Fprint(w, `{"id":101,"user":3,"symbol":"AAPL","side":"buy","qty":2,"price":187.23}`)
				return
			}
			fmt.Fprint(w, `[]`)
		case "/api/quotes":
			w.WriteHeader(500)
			fmt.Fprint(w, "plain text failure")
		default:
			fmt.Fprint(w, `{"id":1,"name":"Ada"}`)
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if u, err := c.User(ctx, 1); err != nil || u.Name != "Ada" || gotPath != "GET /api/users/1" {
		t.Errorf("User = %+v, %v (%s)", u, err, gotPath)
	}

	_, err = c.User(ctx, 404)
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 || se.Message != "user 404 not found" || StatusCode(err) != 404 {
		t.Errorf("User(404) error = %#v", err)
	}

	if _, err := c.Trades(ctx, 7); err != nil || gotPath != "GET /api/trades?user=7" {
		t.Errorf("Trades(7): %v, %s", err, gotPath)
	}
	if _, err := c.Trades(ctx, 0); err != nil || gotPath != "GET /api/trades" {
		t.Errorf("Trades(0): %v, %s", err, gotPath)
	}

	tr, err := c.PlaceTrade(ctx, model.TradeRequest{User: 3, Symbol: "AAPL", Side: model.Buy, Qty: 2})
	if err != nil || tr.ID != 101 || tr.Price != 18723 {
		t.Errorf("PlaceTrade = %+v, %v", tr, err)
	}
	if want := `{"user":3,"symbol":"AAPL","side":"buy","qty":2}`; gotBody != want {
		t.Errorf("body sent = %s, want %s", gotBody, want)
	}

	if _, err := c.Quotes(ctx); StatusCode(err) != 500 || err.(*StatusError).Message != "plain text failure" {
		t.Errorf("Quotes error = %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, _ := New(url, nil)
	_, err := c.Users(context.Background())
	if err == nil || StatusCode(err) != 0 {
		t.Errorf("want a transport error, got %v", err)
	}
}
