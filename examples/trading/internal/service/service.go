package service

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/client"
)

// Service is one running demo service: its configuration, logger, metrics
// and routes. Create it with New, register routes with Handle, and serve
// Handler.
type Service struct {
	Config  Config
	Logger  *slog.Logger
	Metrics *Metrics
	// HTTPClient is for calls to other services; it bounds each call with
	// client.DefaultTimeout.
	HTTPClient *http.Client

	mux      *http.ServeMux
	injector *errorInjector
}

// New creates a service with the operational endpoints (/healthz,
// /metrics, /version) already registered.
func New(cfg Config, logger *slog.Logger) *Service {
	s := &Service{
		Config:     cfg,
		Logger:     logger,
		Metrics:    NewMetrics(cfg),
		HTTPClient: &http.Client{Timeout: client.DefaultTimeout},
		mux:        http.NewServeMux(),
		injector:   &errorInjector{rate: cfg.Faults.ErrorRate},
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.Handle("GET /metrics", s.Metrics.Handler())
	s.mux.HandleFunc("GET /version", s.version)
	return s
}

// Handler returns the service's HTTP handler.
func (s *Service) Handler() http.Handler { return s.mux }

// Env returns the environment variable key, or def when it is unset or
// empty. It reads the same environment as the rest of the configuration.
func (s *Service) Env(key, def string) string {
	if s.Config.getenv != nil {
		if v := s.Config.getenv(key); v != "" {
			return v
		}
	}
	return def
}

// Handle registers an API or page route. pattern is a ServeMux pattern
// that should start with a method, e.g. "GET /api/users/{id}". The route
// is instrumented (under its pattern, with "{$}" dropped, so "GET /{$}" is
// route "/") and subject to the fault knobs.
func (s *Service) Handle(pattern string, h http.Handler) {
	method, route := splitPattern(pattern)
	s.mux.Handle(pattern, s.Metrics.Instrument(method, route, s.injectFaults(h)))
}

// HandleFunc is Handle for a function.
func (s *Service) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	s.Handle(pattern, http.HandlerFunc(h))
}

func splitPattern(pattern string) (method, route string) {
	route = pattern
	if m, rest, ok := strings.Cut(pattern, " "); ok {
		method, route = m, strings.TrimLeft(rest, " ")
	}
	if r := strings.TrimSuffix(route, "{$}"); r != "" {
		route = r
	}
	return method, route
}

// injectFaults applies FAULT_LATENCY and FAULT_ERROR_RATE in front of h.
func (s *Service) injectFaults(h http.Handler) http.Handler {
	f := s.Config.Faults
	if f.Latency <= 0 && f.ErrorRate <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				// The client left (or the server is closing): don't
				// hold the goroutine for the rest of the delay.
				t.Stop()
				return
			}
		}
		if s.injector.fail() {
			WriteError(w, http.StatusInternalServerError, "fault injection: simulated internal error")
			return
		}
		h.ServeHTTP(w, r)
	})
}

type healthBody struct {
	Status   string `json:"status"`
	Service  string `json:"service"`
	Snapshot string `json:"snapshot"`
	Reason   string `json:"reason,omitempty"`
}

// healthz is a liveness check: it reports the process itself, not its
// dependencies, so one failing service does not cascade into every
// caller being restarted.
func (s *Service) healthz(w http.ResponseWriter, _ *http.Request) {
	b := healthBody{Status: "ok", Service: s.Config.Service, Snapshot: s.Config.Snapshot}
	code := http.StatusOK
	if s.Config.Faults.HealthFail {
		b.Status, b.Reason = "fail", "fault injection: FAULT_HEALTH=fail"
		code = http.StatusServiceUnavailable
	}
	WriteJSON(w, code, b)
}

type versionBody struct {
	Service     string `json:"service"`
	Snapshot    string `json:"snapshot"`
	Environment string `json:"environment"`
	Site        string `json:"site"`
}

func (s *Service) version(w http.ResponseWriter, _ *http.Request) {
	c := s.Config
	WriteJSON(w, http.StatusOK, versionBody{c.Service, c.Snapshot, c.Environment, c.Site})
}
