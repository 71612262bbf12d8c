// Command web is the trading demo's frontend: server-rendered HTML pages
// (html/template, embedded in the binary) built from the users and trades
// APIs. It needs no JavaScript and no asset pipeline.
//
//	GET  /            users with their recent trades, and the latest quotes
//	GET  /users/{id}  one user: trades and a form to place a trade
//	POST /trades      place a trade (form fields user, symbol, side, qty),
//	                  then redirect back to the user's page
//
// Every page's footer shows the snapshot ID (LADDER_SNAPSHOT), so a person
// can see which build an environment is running.
//
// Environment, besides what every demo service reads (see package
// examples/trading/internal/service):
//
//	USERS_URL   users API base URL (default http://users:8080)
//	TRADES_URL  trades API base URL (default http://trades:8080)
package main

import (
	"fmt"

	"github.com/ladderhq/ladder/examples/trading/internal/client"
	"github.com/ladderhq/ladder/examples/trading/internal/service"
)

func main() { service.Main("web", setup) }

func setup(s *service.Service) error {
	users, err := client.New(s.Env("USERS_URL", "http://users:8080"), s.HTTPClient)
	if err != nil {
		return fmt.Errorf("USERS_URL: %w", err)
	}
	trades, err := client.New(s.Env("TRADES_URL", "http://trades:8080"), s.HTTPClient)
	if err != nil {
		return fmt.Errorf("TRADES_URL: %w", err)
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return err // a bug in the embedded templates, caught by the tests
	}
	a := &app{
		users:  users,
		trades: trades,
		tmpl:   tmpl,
		log:    s.Logger,
		build:  build{Service: s.Config.Service, Snapshot: s.Config.Snapshot, Environment: s.Config.Environment, Site: s.Config.Site},
	}
	s.HandleFunc("GET /{$}", a.home)
	s.HandleFunc("GET /users/{id}", a.user)
	s.HandleFunc("POST /trades", a.placeTrade)
	return nil
}
