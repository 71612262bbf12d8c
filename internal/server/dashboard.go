package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// asset is one embedded static file, with a content hash that serves as its
// ETag and as a cache-busting version in the URLs the pages use.
type asset struct {
	body    []byte
	ctype   string
	version string
}

// assets are hashed on first use (mime's table is read from the system
// then too), not when any ladder command starts.
var assets = sync.OnceValue(loadAssets)

func loadAssets() map[string]asset {
	out := map[string]asset{}
	entries, err := fs.ReadDir(assetFS, "assets")
	if err != nil {
		panic(err) // embedded at build time; cannot fail at run time
	}
	for _, e := range entries {
		body, err := fs.ReadFile(assetFS, "assets/"+e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		out[e.Name()] = asset{
			body:    body,
			ctype:   mime.TypeByExtension(path.Ext(e.Name())),
			version: hex.EncodeToString(sum[:])[:12],
		}
	}
	return out
}

var funcs = template.FuncMap{
	// asset returns the versioned URL of an embedded file.
	"asset": func(name string) (string, error) {
		a, ok := assets()[name]
		if !ok {
			return "", fmt.Errorf("unknown asset %q", name)
		}
		return "/assets/" + name + "?v=" + a.version, nil
	},
}

// Each page is its own template set: the shared layout and partials plus
// one "content" definition. The fragment the refresh script fetches is
// that "content" template alone, so the live view and the first load can
// never disagree.
//
// They are parsed on first use, not when the program starts: every ladder
// command links this package, and most never serve a page.
var (
	dashboardTmpl = parsePage("dashboard.html")
	eventsTmpl    = parsePage("events.html")
	ladderTmpl    = parsePage("ladder.html")
)

func parsePage(name string) func() *template.Template {
	return sync.OnceValue(func() *template.Template {
		return template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/partials.html", "templates/"+name))
	})
}

// contentSecurityPolicy forbids inline script: the page's only script is
// the embedded refresh.js, so even an escaping bug in a template could not
// run code. Inline SVG needs no exception.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (s *server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	st, err := s.status(r.Context())
	p := s.dashboardPage(st)
	code := http.StatusOK
	if err != nil {
		code, _ = classify(err)
		p.Err = "Cannot read the agent's status: " + err.Error()
		s.log.Error("dashboard: status", "err", err)
	}
	s.render(w, r, dashboardTmpl(), p, code)
}

// handleEventsPage lists events from the store (all processes' events,
// with the API's filters), falling back to the status document's recent
// events when the agent has no store.
func (s *server) handleEventsPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.status(r.Context())
	p := s.statusPage("events", st)
	code := http.StatusOK
	if err != nil {
		code, _ = classify(err)
		p.Err = "Cannot read the agent's status: " + err.Error()
	}
	var events []store.Event
	switch {
	case s.st != nil:
		f, ferr := s.eventFilter(r)
		if ferr == nil {
			if !r.URL.Query().Has("limit") {
				f.Limit = 500
			}
			events, ferr = s.st.ListEvents(r.Context(), f)
		}
		if ferr != nil {
			code, _ = classify(ferr)
			p.Err = "Cannot list events: " + ferr.Error()
		}
		p.EventsFilter = describeFilter(f)
	case st != nil:
		events = st.Events
	}
	p.Events = s.eventsNewestFirst(events)
	s.render(w, r, eventsTmpl(), p, code)
}

func describeFilter(f store.EventFilter) string {
	var parts []string
	if f.Env != "" {
		parts = append(parts, "environment "+f.Env)
	}
	if f.Snapshot != "" {
		parts = append(parts, "snapshot "+snapOf(f.Snapshot).Short)
	}
	if f.Service != "" {
		parts = append(parts, "service "+f.Service)
	}
	if f.Site != "" {
		parts = append(parts, "site "+f.Site)
	}
	if f.Kind != "" {
		parts = append(parts, "kind "+string(f.Kind))
	}
	return strings.Join(parts, " · ")
}

// render executes the page, or with ?fragment=1 only its main content,
// into a buffer first so a template error becomes a clean 500 instead of
// half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, t *template.Template, p pageData, code int) {
	name := "page"
	if r.URL.Query().Get("fragment") == "1" {
		name = "content"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, p); err != nil {
		s.log.Error("render page", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

func (s *server) handleAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := assets()[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+a.version+`"`)
	if r.URL.Query().Get("v") == a.version {
		// The URL names this exact content, so it can be cached for good.
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
