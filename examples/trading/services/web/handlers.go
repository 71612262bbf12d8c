package main

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/ladderhq/ladder/examples/trading/internal/client"
	"github.com/ladderhq/ladder/examples/trading/internal/model"
)

// recentTrades is how many trades the home page shows per user.
const recentTrades = 3

type app struct {
	users, trades *client.Client
	tmpl          map[string]*template.Template
	log           *slog.Logger
	build         build
}

func (a *app) render(w http.ResponseWriter, page string, code int, d pageData) {
	d.Build = a.build
	render(w, a.log, a.tmpl[page], code, d)
}

// fail shows the error page. Upstream failures are 502: the frontend is
// fine, a service behind it is not, and the metrics should say so.
func (a *app) fail(w http.ResponseWriter, code int, msg string, err error) {
	if err != nil {
		a.log.Warn("page failed", "status", code, "msg", msg, "err", err)
	}
	a.render(w, "error", code, pageData{Title: http.StatusText(code), Status: code, Error: msg})
}

// upstreamStatus maps a failed call to the status the page should get.
func upstreamStatus(err error) int {
	if client.StatusCode(err) == http.StatusNotFound {
		return http.StatusNotFound
	}
	return http.StatusBadGateway
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var (
		users            []model.User
		trades           []model.Trade
		quotes           []model.Quote
		uErr, tErr, qErr error
		wg               sync.WaitGroup
	)
	// The three calls are independent; in parallel the page costs one
	// round trip, not three.
	wg.Go(func() { users, uErr = a.users.Users(ctx) })
	wg.Go(func() { trades, tErr = a.trades.Trades(ctx, 0) })
	wg.Go(func() { quotes, qErr = a.trades.Quotes(ctx) })
	wg.Wait()
	switch {
	case uErr != nil:
		a.fail(w, http.StatusBadGateway, "The users service is unavailable.", uErr)
		return
	case tErr != nil:
		a.fail(w, http.StatusBadGateway, "The trades service is unavailable.", tErr)
		return
	case qErr != nil:
		a.fail(w, http.StatusBadGateway, "The trades service is unavailable.", qErr)
		return
	}

	byUser := make(map[int]*userRow, len(users))
	rows := make([]userRow, len(users))
	for i, u := range users {
		rows[i].User = u
		byUser[u.ID] = &rows[i]
	}
	for _, t := range trades { // newest first
		if row := byUser[t.User]; row != nil {
			row.Count++
			if len(row.Recent) < recentTrades {
				row.Recent = append(row.Recent, t)
			}
		}
	}
	a.render(w, "home", http.StatusOK, pageData{Title: "Traders", Rows: rows, Quotes: quotes})
}

func (a *app) user(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 {
		a.fail(w, http.StatusNotFound, "No such user.", nil)
		return
	}
	d := pageData{Form: tradeForm{Side: model.Buy, Qty: 10}}
	if placed, err := strconv.Atoi(r.URL.Query().Get("placed")); err == nil && placed > 0 {
		d.Flash = "Trade #" + strconv.Itoa(placed) + " placed."
	}
	a.userPage(w, r.Context(), id, http.StatusOK, d)
}

// userPage fills in the user, their trades and the quotes, and renders
// the user page with code.
func (a *app) userPage(w http.ResponseWriter, ctx context.Context, id, code int, d pageData) {
	var (
		uErr, tErr, qErr error
		wg               sync.WaitGroup
	)
	wg.Go(func() { d.User, uErr = a.users.User(ctx, id) })
	wg.Go(func() { d.Trades, tErr = a.trades.Trades(ctx, id) })
	wg.Go(func() { d.Quotes, qErr = a.trades.Quotes(ctx) })
	wg.Wait()
	switch {
	case uErr != nil:
		code := upstreamStatus(uErr)
		msg := "The users service is unavailable."
		if code == http.StatusNotFound {
			msg, uErr = "No such user.", nil
		}
		a.fail(w, code, msg, uErr)
		return
	case tErr != nil:
		a.fail(w, http.StatusBadGateway, "The trades service is unavailable.", tErr)
		return
	case qErr != nil:
		a.fail(w, http.StatusBadGateway, "The trades service is unavailable.", qErr)
		return
	}
	d.Title = d.User.Name
	a.render(w, "user", code, d)
}

func (a *app) placeTrade(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		a.fail(w, http.StatusBadRequest, "The form could not be read.", nil)
		return
	}
	user, err := strconv.Atoi(r.PostForm.Get("user"))
	if err != nil || user < 1 {
		a.fail(w, http.StatusBadRequest, "The form names no user.", nil)
		return
	}
	form := tradeForm{
		Symbol: strings.TrimSpace(r.PostForm.Get("symbol")),
		Side:   model.Side(r.PostForm.Get("side")),
	}
	form.Qty, err = strconv.Atoi(strings.TrimSpace(r.PostForm.Get("qty")))
	if err != nil {
		a.userPage(w, r.Context(), user, http.StatusUnprocessableEntity,
			pageData{Form: form, Error: "Quantity must be a whole number."})
		return
	}

	t, err := a.trades.PlaceTrade(r.Context(), model.TradeRequest{User: user, Symbol: form.Symbol, Side: form.Side, Qty: form.Qty})
	if err != nil {
		// The trades API rejected the order (bad quantity, unknown
		// user...): show its reason next to the form. Anything else
		// means the trades service is in trouble.
		if se, ok := errors.AsType[*client.StatusError](err); ok && se.StatusCode >= 400 && se.StatusCode < 500 {
			a.userPage(w, r.Context(), user, http.StatusUnprocessableEntity,
				pageData{Form: form, Error: "Trade rejected: " + se.Message})
			return
		}
		a.fail(w, http.StatusBadGateway, "The trades service is unavailable; the trade was not placed.", err)
		return
	}
	// Post/redirect/get: reloading the result page must not place the
	// trade again.
	http.Redirect(w, r, "/users/"+strconv.Itoa(user)+"?placed="+strconv.Itoa(t.ID), http.StatusSeeOther)
}
