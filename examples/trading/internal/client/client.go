// Package client is the typed HTTP client the trading demo services use to
// call each other (web → users, trades; trades → users, notifications).
// Non-2xx answers become *StatusError so callers can tell "the user does
// not exist" (404) apart from "the users service is down".
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
)

// DefaultTimeout bounds every call, so a slow dependency (for example one
// running with FAULT_LATENCY) turns into an error instead of a hung page.
const DefaultTimeout = 5 * time.Second

// maxBody caps how much of an answer is read; the demo's answers are small.
const maxBody = 4 << 20

// Client calls one service at a base URL such as http://users:8080.
type Client struct {
	base string
	hc   *http.Client
}

// New validates baseURL (it must be absolute http or https) and returns a
// client for it. A nil hc means a client with DefaultTimeout.
func New(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid base URL %q: want http(s)://host[:port]", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}, nil
}

// BaseURL returns the URL the client was created with, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// StatusError is a non-2xx answer from a service.
type StatusError struct {
	Method, URL string
	StatusCode  int
	Message     string // the "error" field of the JSON body, or the raw body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// StatusCode returns the HTTP status of a *StatusError in err's chain, or 0.
func StatusCode(err error) int {
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.StatusCode
	}
	return 0
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := c.base + path
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%s %s: reading body: %w", method, u, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{Method: method, URL: u, StatusCode: resp.StatusCode, Message: strings.TrimSpace(string(b))}
		var e model.Error
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			se.Message = e.Error
		}
		return se
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decoding answer: %w", method, u, err)
	}
	return nil
}

func userQuery(path string, user int) string {
	if user <= 0 {
		return path
	}
	return path + "?user=" + strconv.Itoa(user)
}

// Users lists all users (GET /api/users).
func (c *Client) Users(ctx context.Context) ([]model.User, error) {
	var out []model.User
	return out, c.do(ctx, http.MethodGet, "/api/users", nil, &out)
}

// User fetches one user (GET /api/users/{id}); a missing user is a
// *StatusError with code 404.
func (c *Client) User(ctx context.Context, id int) (model.User, error) {
	var out model.User
	return out, c.do(ctx, http.MethodGet, "/api/users/"+strconv.Itoa(id), nil, &out)
}

// CreateUser adds a user (POST /api/users).
func (c *Client) CreateUser(ctx context.Context, nu model.NewUser) (model.User, error) {
	var out model.User
	return out, c.do(ctx, http.MethodPost, "/api/users", nu, &out)
}

// Quotes lists the latest quotes (GET /api/quotes).
func (c *Client) Quotes(ctx context.Context) ([]model.Quote, error) {
	var out []model.Quote
	return out, c.do(ctx, http.MethodGet, "/api/quotes", nil, &out)
}

// Trades lists a user's trades, newest first (GET /api/trades?user=ID);
// user 0 lists every user's trades.
func (c *Client) Trades(ctx context.Context, user int) ([]model.Trade, error) {
	var out []model.Trade
	return out, c.do(ctx, http.MethodGet, userQuery("/api/trades", user), nil, &out)
}

// PlaceTrade records a trade (POST /api/trades).
func (c *Client) PlaceTrade(ctx context.Context, tr model.TradeRequest) (model.Trade, error) {
	var out model.Trade
	return out, c.do(ctx, http.MethodPost, "/api/trades", tr, &out)
}

// Notify sends a notification (POST /api/notifications).
func (c *Client) Notify(ctx context.Context, n model.NewNotification) (model.Notification, error) {
	var out model.Notification
	return out, c.do(ctx, http.MethodPost, "/api/notifications", n, &out)
}

// Notifications lists a user's notifications, newest first
// (GET /api/notifications?user=ID); user 0 lists all.
func (c *Client) Notifications(ctx context.Context, user int) ([]model.Notification, error) {
	var out []model.Notification
	return out, c.do(ctx, http.MethodGet, userQuery("/api/notifications", user), nil, &out)
}
