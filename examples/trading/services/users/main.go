// Command users is the trading demo's users API. With DATABASE_URL set it
// keeps account holders in PostgreSQL (the users table, which the migrate
// job creates and seeds); without it, in memory, seeded from SEED at
// start-up unless LADDER_DATA is "real".
//
//	GET  /api/users       list users, by ID
//	GET  /api/users/{id}  one user; 404 if unknown
//	POST /api/users       create a user from {"name","email"}; 201
//
// Configuration, fault knobs and the operational endpoints (/healthz,
// /metrics, /version, -healthcheck) are shared by every demo service; see
// package examples/trading/internal/service.
package main

import (
	"context"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/db"
	"github.com/ladderhq/ladder/examples/trading/internal/model"
	"github.com/ladderhq/ladder/examples/trading/internal/seed"
	"github.com/ladderhq/ladder/examples/trading/internal/service"
)

func main() { service.Main("users", setup) }

func setup(s *service.Service) error {
	a := &api{log: s.Logger}
	if url := s.Env("DATABASE_URL", ""); url != "" {
		pool, err := db.Open(context.Background(), url)
		if err != nil {
			return err
		}
		a.store = &pgStore{pool: pool, now: time.Now}
	} else {
		var users []model.User
		if seed.Applies(s.Env("LADDER_DATA", "")) {
			users = seed.Generate(s.Config.Seed).Users
		}
		a.store = newMemStore(users)
	}
	s.HandleFunc("GET /api/users", a.list)
	s.HandleFunc("GET /api/users/{id}", a.get)
	s.HandleFunc("POST /api/users", a.create)
	return nil
}
