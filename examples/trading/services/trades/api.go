package main

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/client"
	"github.com/ladderhq/ladder/examples/trading/internal/model"
	"github.com/ladderhq/ladder/examples/trading/internal/service"
	"github.com/prometheus/client_golang/prometheus"
)

// maxQty keeps a fat-fingered order from dwarfing the seeded ones.
const maxQty = 10000

// notifyTimeout bounds the notification call, which runs after the trade
// is recorded and so must not hold the answer for long.
const notifyTimeout = 2 * time.Second

type api struct {
	book          *quoteBook
	trades        tradeLog
	users         *client.Client
	notifications *client.Client
	log           *slog.Logger
	placed        *prometheus.CounterVec
	notifyFailed  prometheus.Counter
}

func (a *api) quotes(w http.ResponseWriter, r *http.Request) {
	service.WriteJSON(w, http.StatusOK, a.book.quotes)
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	user := 0
	if v := r.URL.Query().Get("user"); v != "" {
		id, err := strconv.Atoi(v)
		if err != nil || id < 1 {
			service.WriteError(w, http.StatusBadRequest, "user must be a positive integer")
			return
		}
		user = id
	}
	trades, err := a.trades.list(r.Context(), user)
	if err != nil {
		a.log.Error("trades store failed", "err", err)
		service.WriteError(w, http.StatusInternalServerError, "trades store unavailable")
		return
	}
	service.WriteJSON(w, http.StatusOK, trades)
}

func (a *api) place(w http.ResponseWriter, r *http.Request) {
	var req model.TradeRequest
	if err := service.DecodeJSON(w, r, &req); err != nil {
		service.WriteError(w, http.StatusBadRequest, "%v", err)
		return
	}
	req.Symbol = strings.ToUpper(strings.TrimSpace(req.Symbol))
	req.Side = model.Side(strings.ToLower(string(req.Side)))
	price, known := a.book.price(req.Symbol)
	switch {
	case req.User < 1:
		service.WriteError(w, http.StatusUnprocessableEntity, "user must be a positive integer")
		return
	case !known:
		service.WriteError(w, http.StatusUnprocessableEntity, "unknown symbol %q", req.Symbol)
		return
	case !req.Side.Valid():
		service.WriteError(w, http.StatusUnprocessableEntity, `side must be "buy" or "sell"`)
		return
	case req.Qty < 1 || req.Qty > maxQty:
		service.WriteError(w, http.StatusUnprocessableEntity, "qty must be between 1 and %d", maxQty)
		return
	}

	if _, err := a.users.User(r.Context(), req.User); err != nil {
		if client.StatusCode(err) == http.StatusNotFound {
			service.WriteError(w, http.StatusUnprocessableEntity, "user %d does not exist", req.User)
			return
		}
		a.log.Error("checking user failed", "user", req.User, "err", err)
		service.WriteError(w, http.StatusBadGateway, "users service unavailable")
		return
	}

	t, err := a.trades.add(r.Context(), req, price)
	if err != nil {
		a.log.Error("recording trade failed", "user", req.User, "err", err)
		service.WriteError(w, http.StatusInternalServerError, "trades store unavailable")
		return
	}
	a.placed.WithLabelValues(t.Symbol, string(t.Side)).Inc()
	a.log.Info("trade placed", "trade", t.ID, "user", t.User, "symbol", t.Symbol, "side", t.Side, "qty", t.Qty, "price", t.Price.String())

	// The trade stands whatever happens next, so the notification must not
	// be cancelled by the client hanging up, nor fail the request.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), notifyTimeout)
	defer cancel()
	if _, err := a.notifications.Notify(ctx, model.NewNotification{User: t.User, TradeID: t.ID, Message: t.FillMessage()}); err != nil {
		a.notifyFailed.Inc()
		a.log.Warn("notification failed", "trade", t.ID, "user", t.User, "err", err)
	}

	service.WriteJSON(w, http.StatusCreated, t)
}
