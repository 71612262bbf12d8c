package main

import (
	"errors"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
	"github.com/ladderhq/ladder/examples/trading/internal/service"
)

type api struct{ store *store }

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	service.WriteJSON(w, http.StatusOK, a.store.list())
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 {
		service.WriteError(w, http.StatusBadRequest, "user id must be a positive integer")
		return
	}
	u, ok := a.store.get(id)
	if !ok {
		service.WriteError(w, http.StatusNotFound, "user %d not found", id)
		return
	}
	service.WriteJSON(w, http.StatusOK, u)
}

func (a *api) create(w http.ResponseWriter, r *http.Request) {
	var nu model.NewUser
	if err := service.DecodeJSON(w, r, &nu); err != nil {
		service.WriteError(w, http.StatusBadRequest, "%v", err)
		return
	}
	nu.Name, nu.Email = strings.TrimSpace(nu.Name), strings.TrimSpace(nu.Email)
	if nu.Name == "" {
		service.WriteError(w, http.StatusUnprocessableEntity, "name is required")
		return
	}
	if addr, err := mail.ParseAddress(nu.Email); err != nil || addr.Address != nu.Email {
		service.WriteError(w, http.StatusUnprocessableEntity, "email %q is not a valid address", nu.Email)
		return
	}
	u, err := a.store.create(nu)
	if errors.Is(err, errDuplicateEmail) {
		service.WriteError(w, http.StatusConflict, "%v", err)
		return
	}
	w.Header().Set("Location", "/api/users/"+strconv.Itoa(u.ID))
	service.WriteJSON(w, http.StatusCreated, u)
}
