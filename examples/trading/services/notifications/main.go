// Command notifications is the trading demo's notifications API: an
// in-memory inbox per user, seeded with a fill message for every seeded
// trade, and fed by the trades API when a new trade is placed.
//
//	POST /api/notifications          add {"user","trade_id","message"}; 201
//	GET  /api/notifications?user=ID  a user's notifications, newest first
//	                                 (without ?user=, everyone's)
//
// Configuration, fault knobs and the operational endpoints (/healthz,
// /metrics, /version, -healthcheck) are shared by every demo service; see
// package examples/trading/internal/service.
package main

import (
	"github.com/ladderhq/ladder/examples/trading/internal/model"
	"github.com/ladderhq/ladder/examples/trading/internal/seed"
	"github.com/ladderhq/ladder/examples/trading/internal/service"
)

func main() { service.Main("notifications", setup) }

func setup(s *service.Service) error {
	// The seed's notifications go with its trades: none on real data.
	var seeded []model.Notification
	if seed.Applies(s.Env("LADDER_DATA", "")) {
		seeded = seed.Generate(s.Config.Seed).Notifications
	}
	a := &api{store: newStore(seeded)}
	s.HandleFunc("POST /api/notifications", a.create)
	s.HandleFunc("GET /api/notifications", a.list)
	return nil
}
