package service

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DurationBuckets cover 1ms..5s, the range between a cached answer and a
// request that a client will have given up on.
var DurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// Metrics is a service's Prometheus registry and its HTTP instruments. A
// private registry (not the global default) keeps tests independent and
// the exposition limited to what is registered here.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics creates the registry with Go and process collectors, the HTTP
// instruments and trading_build_info, which carries the snapshot so a
// scrape can be matched to the build it came from.
func NewMetrics(cfg Config) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request latency, by method and route pattern.",
			Buckets: DurationBuckets,
		}, []string{"method", "route"}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "trading_build_info",
		Help: "Always 1; labels identify the running build.",
		ConstLabels: prometheus.Labels{
			"service":     cfg.Service,
			"snapshot":    cfg.Snapshot,
			"environment": cfg.Environment,
			"site":        cfg.Site,
		},
	})
	info.Set(1)
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, info,
	)
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Instrument wraps next so that each request is counted and timed under
// route, a pattern such as "/api/users/{id}". Labelling by pattern rather
// than by raw path keeps the number of series bounded.
func (m *Metrics) Instrument(method, route string, next http.Handler) http.Handler {
	// Create the series up front: a route's latency histogram and its
	// error counter then exist (at zero) from the first scrape, so an
	// error-ratio query has data before the first failure rather than none.
	if method != "" {
		m.duration.WithLabelValues(method, route)
		m.requests.WithLabelValues(method, route, "500")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			// A panicking handler is a 500 as far as clients can tell;
			// record it, then let net/http handle the panic as usual.
			p := recover()
			code := rec.status()
			if p != nil {
				code = http.StatusInternalServerError
			}
			meth := methodLabel(r.Method)
			m.requests.WithLabelValues(meth, route, strconv.Itoa(code)).Inc()
			m.duration.WithLabelValues(meth, route).Observe(time.Since(start).Seconds())
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// methodLabel maps the request method onto a fixed set, so that a client
// sending made-up methods cannot create new series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// statusRecorder remembers the status code a handler sent.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) status() int {
	if r.code == 0 {
		return http.StatusOK // the handler wrote nothing: net/http sends 200
	}
	return r.code
}
