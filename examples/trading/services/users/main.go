// Command users is the trading demo's users API. It keeps account holders
// in memory, seeded deterministically from SEED at start-up.
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
	"github.com/ladderhq/ladder/examples/trading/internal/seed"
	"github.com/ladderhq/ladder/examples/trading/internal/service"
)

func main() { service.Main("users", setup) }

func setup(s *service.Service) error {
	a := &api{store: newStore(seed.Generate(s.Config.Seed).Users)}
	s.HandleFunc("GET /api/users", a.list)
	s.HandleFunc("GET /api/users/{id}", a.get)
	s.HandleFunc("POST /api/users", a.create)
	return nil
}
