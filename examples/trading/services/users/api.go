package main

import (
	"errors"
	"log/slog"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
	"github.com/ladderhq/ladder/examples/trading/internal/service"
)

type api struct {
	store userStore
	log   *slog.Logger
}

// failed answers 500 for a store error, logged with the request's route.
func (a *api) failed(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Error("users store failed", "method", r.Method, "path", r.URL.Path, "err", err)
	service.WriteError(w, http.StatusInternalServerError, "users store unavailable")
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	users, err := a.store.list(r.Context())
	if err != nil {
		a.failed(w, r, err)
		return
	}
	service.WriteJSON(w, http.StatusOK, users)
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 {
		service.WriteError(w, http.StatusBadRequest, "user id must be a positive integer")
		return
	}
	u, ok, err := a.store.get(r.Context(), id)
	if err != nil {
		a.failed(w, r, err)
		return
	}
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
	u, err := a.store.create(r.Context(), nu)
	if errors.Is(err, errDuplicateEmail) {
		service.WriteError(w, http.StatusConflict, "%v", err)
		return
	}
	if err != nil {
		a.failed(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/users/"+strconv.Itoa(u.ID))
	service.WriteJSON(w, http.StatusCreated, u)
}
