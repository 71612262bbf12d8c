package main

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
	"github.com/ladderhq/ladder/examples/trading/internal/service"
)

const maxMessage = 500

type api struct{ store *store }

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
	service.WriteJSON(w, http.StatusOK, a.store.list(user))
}

// create trusts the caller (the trades API) about the user's existence:
// checking would make notifications depend on the users service too.
func (a *api) create(w http.ResponseWriter, r *http.Request) {
	var nn model.NewNotification
	if err := service.DecodeJSON(w, r, &nn); err != nil {
		service.WriteError(w, http.StatusBadRequest, "%v", err)
		return
	}
	nn.Message = strings.TrimSpace(nn.Message)
	switch {
	case nn.User < 1:
		service.WriteError(w, http.StatusUnprocessableEntity, "user must be a positive integer")
		return
	case nn.TradeID < 0:
		service.WriteError(w, http.StatusUnprocessableEntity, "trade_id must not be negative")
		return
	case nn.Message == "":
		service.WriteError(w, http.StatusUnprocessableEntity, "message is required")
		return
	case len(nn.Message) > maxMessage:
		service.WriteError(w, http.StatusUnprocessableEntity, "message is longer than %d bytes", maxMessage)
		return
	}
	service.WriteJSON(w, http.StatusCreated, a.store.add(nn))
}
