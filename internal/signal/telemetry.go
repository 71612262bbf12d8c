package signal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ladderhq/ladder/internal/store"
)

// ScrapeTarget is one instance's Prometheus /metrics endpoint, with the
// identity its readings are filed under. Every sample inherits Snapshot from
// its targets, which is what ties a metric to the snapshot that produced it.
type ScrapeTarget struct {
	Env, Site, Snapshot, Service, Slot string
	// URL is the instance's metrics endpoint, e.g. http://127.0.0.1:8081/metrics.
	URL string
}

func (t ScrapeTarget) String() string {
	return fmt.Sprintf("%s/%s/%s[%s] %s", t.Env, t.Site, t.Service, t.Slot, t.URL)
}

// MetricNames says which metric families carry the request signals. The
// defaults are the names most HTTP instrumentation libraries use.
type MetricNames struct {
	// Requests is a counter of handled requests, labelled with the status
	// code. Default "http_requests_total".
	Requests string
	// CodeLabel is the label of Requests holding the HTTP status code.
	// Default "code".
	CodeLabel string
	// Duration is a histogram of request durations in seconds. Default
	// "http_request_duration_seconds".
	Duration string
}

func (n MetricNames) withDefaults() MetricNames {
	if n.Requests == "" {
		n.Requests = "http_requests_total"
	}
	if n.CodeLabel == "" {
		n.CodeLabel = "code"
	}
	if n.Duration == "" {
		n.Duration = "http_request_duration_seconds"
	}
	return n
}

// ScraperOptions configures a Scraper; zero fields take defaults.
type ScraperOptions struct {
	// Client does the requests. Default: a client with Timeout.
	Client *http.Client
	// Timeout bounds each target's request, whatever the client. Default 5s.
	Timeout time.Duration
	// Names of the metric families to read.
	Names MetricNames
	// Now is the clock readings are timed with. Default time.Now; tests
	// pass a fake one to get exact rates.
	Now func() time.Time
	// Concurrency is how many targets are fetched at once. Default 8.
	Concurrency int
	// MaxBodyBytes caps one response, so a runaway exporter cannot exhaust
	// ladder's memory. Default 16 MiB.
	MaxBodyBytes int64
}

// ScrapeError is a target that could not be read this round, and why.
type ScrapeError struct {
	Target ScrapeTarget
	Err    error
}

func (e ScrapeError) Error() string {
	return fmt.Sprintf("scrape %s: %v", e.Target, e.Err)
}

func (e ScrapeError) Unwrap() error { return e.Err }

// Scraper reads the metrics endpoints of a stack's instances and turns
// successive readings into per-service samples. It remembers the previous
// reading of each target, which is what rates are computed against; it is
// safe for concurrent use, though concurrent Scrape calls are serialised so
// that readings pair up in the order they were taken.
type Scraper struct {
	client      *http.Client
	timeout     time.Duration
	names       MetricNames
	now         func() time.Time
	concurrency int
	maxBody     int64

	mu   sync.Mutex
	prev map[ScrapeTarget]*reading
}

// NewScraper returns a Scraper with no previous readings.
func NewScraper(opts ScraperOptions) *Scraper {
	s := &Scraper{
		client:      opts.Client,
		timeout:     opts.Timeout,
		names:       opts.Names.withDefaults(),
		now:         opts.Now,
		concurrency: opts.Concurrency,
		maxBody:     opts.MaxBodyBytes,
		prev:        make(map[ScrapeTarget]*reading),
	}
	if s.timeout <= 0 {
		s.timeout = 5 * time.Second
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: s.timeout}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.concurrency <= 0 {
		s.concurrency = 8
	}
	if s.maxBody <= 0 {
		s.maxBody = 16 << 20
	}
	return s
}

// Scrape reads every target once, concurrently, and returns one sample per
// (env, site, snapshot, service) that has at least one replica read both
// now and in an earlier Scrape, with the replicas' signals added together.
// A target read for the first time only sets the baseline. A target that
// fails keeps its earlier reading, so the next success measures the whole
// gap; a target missing from targets is forgotten. Failures are returned
// in target order, samples ordered by env, site, service and snapshot.
func (s *Scraper) Scrape(ctx context.Context, targets []ScrapeTarget) ([]store.Sample, []ScrapeError) {
	s.mu.Lock()
	defer s.mu.Unlock()

	targets = dedupTargets(targets)
	results := make([]*reading, len(targets))
	errs := make([]error, len(targets))
	sem := make(chan struct{}, s.concurrency)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			results[i], errs[i] = s.scrapeOne(ctx, t)
		})
	}
	wg.Wait()

	var failures []ScrapeError
	next := make(map[ScrapeTarget]*reading, len(targets))
	agg := newAggregator()
	for i, t := range targets {
		prev := s.prev[t]
		if errs[i] != nil {
			failures = append(failures, ScrapeError{Target: t, Err: errs[i]})
			if prev != nil {
				next[t] = prev
			}
			continue
		}
		cur := results[i]
		if prev != nil && !cur.at.After(prev.at) {
			// No time has passed on this clock: no rate can be computed,
			// and keeping the older baseline lets the next round measure
			// the whole interval.
			next[t] = prev
			continue
		}
		next[t] = cur
		if prev != nil {
			agg.add(t, prev, cur)
		}
	}
	s.prev = next
	return agg.samples(), failures
}

// dedupTargets drops repeated targets: reading one twice in a round would
// pair the two readings with each other instead of with the last round.
func dedupTargets(targets []ScrapeTarget) []ScrapeTarget {
	seen := make(map[ScrapeTarget]bool, len(targets))
	out := make([]ScrapeTarget, 0, len(targets))
	for _, t := range targets {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// acceptHeader prefers the delimited protobuf format (cheapest to decode,
// exact floats) and falls back to the text format; both allow UTF-8 names
// so that a name is never escaped into something we would not match.
const acceptHeader = `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=allow-utf-8;q=0.7,` +
	`text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,*/*;q=0.1`

// scrapeOne fetches and decodes one target. The reading is timed when the
// request is sent, as Prometheus does: that is the moment closest to when
// the exporter took its values.
func (s *Scraper) scrapeOne(ctx context.Context, t ScrapeTarget) (*reading, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", acceptHeader)
	at := s.now()
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(snippet)))
	}
	fams, err := decodeFamilies(&capReader{r: resp.Body, left: s.maxBody}, resp.Header)
	if err != nil {
		return nil, fmt.Errorf("decode metrics: %w", err)
	}
	return parseReading(at, fams, s.names), nil
}

// decodeFamilies decodes a metrics response in whatever format the server
// chose. Delimited protobuf goes through expfmt's decoder; text, and
// responses with no recognisable type (hand-rolled exporters often send
// bare text/plain), go through the text parser with UTF-8 validation, which
// accepts every name the legacy rules accept. OpenMetrics is never asked
// for; should a server send it anyway, the text parser reads the parts
// ladder needs, as Prometheus' own decoder does.
func decodeFamilies(body io.Reader, h http.Header) ([]*dto.MetricFamily, error) {
	format := expfmt.ResponseFormat(h)
	switch format.FormatType() {
	case expfmt.TypeProtoDelim:
		// Without an escaping term the decoder would enforce legacy names;
		// we asked for allow-utf-8, so validate accordingly.
		dec := expfmt.NewDecoder(body, format.WithEscapingScheme(model.NoEscaping))
		var fams []*dto.MetricFamily
		for {
			mf := new(dto.MetricFamily)
			err := dec.Decode(mf)
			if errors.Is(err, io.EOF) {
				return fams, nil
			}
			if err != nil {
				return nil, err
			}
			fams = append(fams, mf)
		}
	default:
		p := expfmt.NewTextParser(model.UTF8Validation)
		byName, err := p.TextToMetricFamilies(body)
		if err != nil {
			return nil, err
		}
		fams := make([]*dto.MetricFamily, 0, len(byName))
		for _, mf := range byName {
			fams = append(fams, mf)
		}
		return fams, nil
	}
}

// errTooLarge is returned once a response exceeds MaxBodyBytes.
var errTooLarge = errors.New("metrics response too large")

// capReader fails, rather than silently truncating, past its limit: a cut
// exposition could still parse and would give wrong numbers.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// Probe for one more byte to tell "exactly at the limit" from "over".
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// sortSamples orders samples for stable output.
func sortSamples(samples []store.Sample) {
	slices.SortFunc(samples, func(a, b store.Sample) int {
		return cmpStrings(
			[]string{a.Env, a.Site, a.Service, a.Snapshot},
			[]string{b.Env, b.Site, b.Service, b.Snapshot})
	})
}

func cmpStrings(a, b []string) int {
	for i := range a {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}
