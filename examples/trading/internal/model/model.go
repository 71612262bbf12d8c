// Package model holds the JSON types that the trading demo services
// exchange over HTTP. Keeping them in one place means the web frontend,
// the APIs and the seed generator cannot drift apart on field names.
package model

import (
	"fmt"
	"time"
)

// User is an account holder, served by the users API.
type User struct {
	ID        int       `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

// NewUser is the body of POST /api/users.
type NewUser struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Side says whether a trade buys or sells.
type Side string

// The two sides of a trade.
const (
	Buy  Side = "buy"
	Sell Side = "sell"
)

// Valid reports whether s is one of the known sides.
func (s Side) Valid() bool { return s == Buy || s == Sell }

// Quote is the latest price of a symbol, served by the trades API.
type Quote struct {
	Symbol    string    `json:"symbol"`
	Name      string    `json:"name"`
	Price     Money     `json:"price"`
	Open      Money     `json:"open"`
	Change    Money     `json:"change"`
	ChangePct float64   `json:"change_pct"`
	AsOf      time.Time `json:"as_of"`
}

// Trade is an executed order, served by the trades API.
type Trade struct {
	ID     int       `json:"id"`
	User   int       `json:"user"`
	Symbol string    `json:"symbol"`
	Side   Side      `json:"side"`
	Qty    int       `json:"qty"`
	Price  Money     `json:"price"`
	Time   time.Time `json:"time"`
	// Snapshot is the snapshot of the trades API that placed the trade
	// (schema v2); empty for seeded trades and those placed before v2.
	Snapshot string `json:"snapshot,omitempty"`
}

// Notional is the trade's total value (price times quantity).
func (t Trade) Notional() Money { return t.Price * Money(t.Qty) }

// FillMessage is the notification text sent to a user when a trade fills.
// Both the seed generator and the trades API use it, so seeded and live
// notifications read the same.
func (t Trade) FillMessage() string {
	return fmt.Sprintf("Trade #%d filled: %s %d %s @ %s", t.ID, t.Side, t.Qty, t.Symbol, t.Price)
}

// TradeRequest is the body of POST /api/trades.
type TradeRequest struct {
	User   int    `json:"user"`
	Symbol string `json:"symbol"`
	Side   Side   `json:"side"`
	Qty    int    `json:"qty"`
}

// Notification is a message for a user, served by the notifications API.
type Notification struct {
	ID        int       `json:"id"`
	User      int       `json:"user"`
	TradeID   int       `json:"trade_id,omitempty"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
}

// NewNotification is the body of POST /api/notifications.
type NewNotification struct {
	User    int    `json:"user"`
	TradeID int    `json:"trade_id,omitempty"`
	Message string `json:"message"`
}

// Error is the JSON body every API returns with a non-2xx status.
type Error struct {
	Error string `json:"error"`
}
