// Command trades is the trading demo's trades API. It serves quotes and
// records trades; placing a trade checks the user with the users API and
// then tells the notifications API. With DATABASE_URL set, trades are kept
// in PostgreSQL (the trades table, created and seeded by the migrate job);
// without it, in memory, seeded from SEED unless LADDER_DATA is "real".
//
//	GET  /api/quotes          latest quote per symbol (a seeded random walk)
//	GET  /api/trades?user=ID  a user's trades, newest first (without ?user=, everyone's)
//	POST /api/trades          place {"user","symbol","side","qty"} at the quoted price; 201
//
// Environment, besides what every demo service reads (see package
// examples/trading/internal/service):
//
//	USERS_URL          users API base URL (default http://users:8080)
//	NOTIFICATIONS_URL  notifications API base URL (default http://notifications:8080)
//	DATABASE_URL       PostgreSQL connection string (default: keep trades in memory)
//
// An unknown user is rejected (422); if the users API cannot be reached the
// trade fails (502). A failed notification is only logged and counted in
// trading_notifications_failed_total: the trade has already been made.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/client"
	"github.com/ladderhq/ladder/examples/trading/internal/db"
	"github.com/ladderhq/ladder/examples/trading/internal/model"
	"github.com/ladderhq/ladder/examples/trading/internal/seed"
	"github.com/ladderhq/ladder/examples/trading/internal/service"
	"github.com/prometheus/client_golang/prometheus"
)

func main() { service.Main("trades", setup) }

func setup(s *service.Service) error {
	users, err := client.New(s.Env("USERS_URL", "http://users:8080"), s.HTTPClient)
	if err != nil {
		return fmt.Errorf("USERS_URL: %w", err)
	}
	notifications, err := client.New(s.Env("NOTIFICATIONS_URL", "http://notifications:8080"), s.HTTPClient)
	if err != nil {
		return fmt.Errorf("NOTIFICATIONS_URL: %w", err)
	}
	data := seed.Generate(s.Config.Seed)
	var trades tradeLog
	if url := s.Env("DATABASE_URL", ""); url != "" {
		pool, err := db.Open(context.Background(), url)
		if err != nil {
			return err
		}
		trades = &pgLog{pool: pool, snapshot: s.Config.Snapshot, now: time.Now}
	} else {
		var seeded []model.Trade
		if seed.Applies(s.Env("LADDER_DATA", "")) {
			seeded = data.Trades
		}
		trades = newMemLog(s.Config.Snapshot, seeded)
	}
	a := &api{
		book:          newQuoteBook(data.Quotes),
		trades:        trades,
		users:         users,
		notifications: notifications,
		log:           s.Logger,
		placed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trading_trades_placed_total",
			Help: "Trades placed through POST /api/trades, by symbol and side.",
		}, []string{"symbol", "side"}),
		notifyFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trading_notifications_failed_total",
			Help: "Trades whose fill notification could not be delivered.",
		}),
	}
	s.Metrics.Registry.MustRegister(a.placed, a.notifyFailed)
	s.HandleFunc("GET /api/quotes", a.quotes)
	s.HandleFunc("GET /api/trades", a.list)
	s.HandleFunc("POST /api/trades", a.place)
	return nil
}
