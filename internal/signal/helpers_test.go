package signal

import (
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// fakeClock is a settable clock safe for the scraper's goroutines.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testBuckets are the duration histogram's bounds in the exporter tests.
var testBuckets = []float64{0.01, 0.05, 0.1, 0.5, 1}

// exporter is a real instrumented process stand-in: a client_golang
// registry served by promhttp. restart swaps in a fresh registry, as a new
// process on the same port would.
type exporter struct {
	srv *httptest.Server

	mu       sync.Mutex
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	handler  http.Handler
	accepts  []string
}

func newExporter(t testing.TB) *exporter {
	e := &exporter{}
	e.restart()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		h := e.handler
		e.accepts = append(e.accepts, r.Header.Get("Accept"))
		e.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *exporter) restart() {
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total", Help: "Requests handled.",
	}, []string{"method", "route", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "Request latency.", Buckets: testBuckets,
	}, []string{"method", "route"})
	reg.MustRegister(requests, duration)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reg, e.requests, e.duration = reg, requests, duration
	e.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// serve records n requests to route answered with code, each taking
// latency seconds.
func (e *exporter) serve(n int, route, code string, latency float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range n {
		e.requests.WithLabelValues("GET", route, code).Inc()
		e.duration.WithLabelValues("GET", route).Observe(latency)
	}
}

func (e *exporter) url() string { return e.srv.URL + "/metrics" }

// familyServer serves hand-built metric families in a chosen format,
// through expfmt's encoder, so tests control every value exactly.
type familyServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	fams   []*dto.MetricFamily
	format expfmt.Format
}

func newFamilyServer(t testing.TB, format expfmt.Format) *familyServer {
	f := &familyServer{format: format}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", string(f.format))
		enc := expfmt.NewEncoder(w, f.format)
		for _, mf := range f.fams {
			if err := enc.Encode(mf); err != nil {
				t.Errorf("encode: %v", err)
			}
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *familyServer) set(fams ...*dto.MetricFamily) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fams = fams
}

func (f *familyServer) url() string { return f.srv.URL + "/metrics" }

// counterFamily builds http_requests_total with one series per code.
func counterFamily(byCode map[string]float64) *dto.MetricFamily {
	mf := &dto.MetricFamily{Name: proto.String("http_requests_total"), Type: dto.MetricType_COUNTER.Enum()}
	for code, v := range byCode {
		mf.Metric = append(mf.Metric, &dto.Metric{
			Label:   []*dto.LabelPair{{Name: proto.String("code"), Value: proto.String(code)}},
			Counter: &dto.Counter{Value: proto.Float64(v)},
		})
	}
	return mf
}

// histFamily builds http_request_duration_seconds with one series whose
// cumulative bucket counts are given for testBuckets, plus the total.
func histFamily(cumulative []uint64, total uint64) *dto.MetricFamily {
	h := &dto.Histogram{SampleCount: proto.Uint64(total), SampleSum: proto.Float64(0)}
	for i, ub := range testBuckets {
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(ub), CumulativeCount: proto.Uint64(cumulative[i])})
	}
	return &dto.MetricFamily{
		Name:   proto.String("http_request_duration_seconds"),
		Type:   dto.MetricType_HISTOGRAM.Enum(),
		Metric: []*dto.Metric{{Histogram: h}},
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
