package main

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/ladderhq/ladder/examples/trading/internal/model"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are the page templates; each is rendered inside layout.html.
var pages = []string{"home", "user", "error"}

// build identifies the running deployment in every page's footer.
type build struct {
	Service, Snapshot, Environment, Site string
}

// pageData is what every template receives; each page uses the fields it
// needs. One struct keeps the templates' contract in one place.
type pageData struct {
	Title  string
	Build  build
	Flash  string // a success message, e.g. after placing a trade
	Error  string // a problem to show the user
	Status int    // for the error page

	Quotes []model.Quote
	Rows   []userRow // home page
	User   model.User
	Trades []model.Trade
	Form   tradeForm
}

// userRow is one line of the home page.
type userRow struct {
	User   model.User
	Recent []model.Trade // newest first, at most recentTrades
	Count  int
}

// tradeForm holds the trade form's values, so a rejected trade can be
// shown again with what the user typed.
type tradeForm struct {
	Symbol string
	Side   model.Side
	Qty    int
}

func parseTemplates() (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(pages))
	for _, p := range pages {
		t, err := template.New(p).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", p, err)
		}
		out[p] = t
	}
	return out, nil
}

// render executes a page into a buffer first, so that a template error
// becomes a clean 500 instead of half a page.
func render(w http.ResponseWriter, log *slog.Logger, t *template.Template, code int, d pageData) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		log.Error("rendering page failed", "page", t.Name(), "err", err)
		http.Error(w, "internal error rendering page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}
