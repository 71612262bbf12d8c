package signal

import (
	"context"
	"sync"
	"time"
)

// HealthConfig is a Compose healthcheck's timing, with Docker's meaning
// and defaults.
type HealthConfig struct {
	// Interval between the start of one probe and the next. Default 30s.
	Interval time.Duration
	// Timeout after which a probe counts as failed. Default 30s.
	Timeout time.Duration
	// StartPeriod after the instance starts during which failures are not
	// counted, unless a probe has already succeeded. Default 0.
	StartPeriod time.Duration
	// Retries is how many failures in a row make an instance unhealthy.
	// Default 3 (Docker treats 0 as "use the default" too).
	Retries int
}

// WithDefaults fills zero fields with Docker's defaults.
func (c HealthConfig) WithDefaults() HealthConfig {
	if c.Interval <= 0 {
		c.Interval = 30 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.StartPeriod < 0 {
		c.StartPeriod = 0
	}
	if c.Retries <= 0 {
		c.Retries = 3
	}
	return c
}

// ProbeResult is the outcome of one probe of one instance.
type ProbeResult struct {
	// Start is when the probe began: the start period is judged by it.
	Start time.Time
	// Duration is how long the probe took; longer than the Timeout is a
	// failure even if the probe itself reported success.
	Duration time.Duration
	OK       bool
	Detail   string
}

// Run runs probe under the config's timeout and times it with now (nil:
// time.Now).
func (c HealthConfig) Run(ctx context.Context, now func() time.Time, probe ProbeFunc) ProbeResult {
	c = c.WithDefaults()
	if now == nil {
		now = time.Now
	}
	// Start before the deadline is set: a probe cut off by it then lasts
	// at least Timeout, which is how a timeout is told from a failure,
	// however late this goroutine ran in between.
	start := now()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	ok, detail := probe(ctx)
	return ProbeResult{Start: start, Duration: now().Sub(start), OK: ok, Detail: detail}
}

// Transition is a change of an instance's health, reported once so the
// caller can record one event per change.
type Transition struct {
	Instance string
	// From is "" when the instance was not known before.
	From, To Health
	At       time.Time
	// Detail is what the probe that caused the change said.
	Detail string
	// FailingStreak is the number of counted failures in a row.
	FailingStreak int
}

// InstanceHealth is what a Tracker knows of one instance.
type InstanceHealth struct {
	Status        Health
	FailingStreak int
	Started       time.Time
	LastProbe     time.Time
	LastDetail    string
	// lastCounted is when ObserveFast last counted a failure.
	lastCounted time.Time
}

// Tracker turns probe results into per-instance health the way Docker's
// healthcheck monitor does, so a stack's healthcheck behaves the same under
// ladder as under Compose:
//
//   - an instance is starting until a probe succeeds, then healthy;
//   - it becomes unhealthy after Retries failures in a row, and healthy
//     again on the next success;
//   - while it has never succeeded, failures in the first StartPeriod do not
//     count, so slow starters are not condemned while warming up;
//   - a probe longer than Timeout is a failure.
//
// Instances are named by the caller (for example "env/site/service/slot").
// It is safe for concurrent use.
type Tracker struct {
	cfg HealthConfig

	mu        sync.Mutex
	instances map[string]*InstanceHealth
}

// NewTracker returns a Tracker applying cfg (zero fields take Docker's
// defaults) to every instance.
func NewTracker(cfg HealthConfig) *Tracker {
	return &Tracker{cfg: cfg.WithDefaults(), instances: make(map[string]*InstanceHealth)}
}

// Config returns the tracker's configuration with defaults applied.
func (t *Tracker) Config() HealthConfig { return t.cfg }

// Start records that instance (re)started at at: its health is starting
// again and its start period begins, as Docker resets health on restart.
func (t *Tracker) Start(instance string, at time.Time) (Transition, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var from Health
	if h := t.instances[instance]; h != nil {
		from = h.Status
	}
	t.instances[instance] = &InstanceHealth{Status: HealthStarting, Started: at}
	return newTransition(instance, from, HealthStarting, at, "started", 0)
}

// Stop records that instance is no longer running. Probe results that
// arrive afterwards (a probe in flight when it stopped) are ignored.
func (t *Tracker) Stop(instance string, at time.Time) (Transition, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.instances[instance]
	if h == nil {
		h = &InstanceHealth{Started: at}
		t.instances[instance] = h
	}
	from := h.Status
	h.Status = HealthStopped
	h.FailingStreak = 0
	return newTransition(instance, from, HealthStopped, at, "stopped", 0)
}

// Forget drops an instance that no longer exists.
func (t *Tracker) Forget(instance string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.instances, instance)
}

// Observe applies one probe result and reports the change of health it
// caused, if any. An instance never Started is taken to have started with
// this probe.
func (t *Tracker) Observe(instance string, r ProbeResult) (Transition, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.instances[instance]
	var from Health
	if h == nil {
		h = &InstanceHealth{Status: HealthStarting, Started: r.Start}
		t.instances[instance] = h
	} else {
		from = h.Status
	}
	if from == HealthStopped {
		return Transition{}, false
	}
	ok, detail := r.OK, r.Detail
	if r.Duration > t.cfg.Timeout {
		ok, detail = false, "timeout after "+t.cfg.Timeout.String()
	}
	h.LastProbe, h.LastDetail = r.Start, detail
	if ok {
		h.FailingStreak = 0
		h.Status = HealthHealthy
	} else if h.Status != HealthStarting || r.Start.Sub(h.Started) >= t.cfg.StartPeriod {
		// Docker only forgives failures while the instance has never
		// been healthy and is still within its start period.
		h.FailingStreak++
		if h.FailingStreak >= t.cfg.Retries {
			h.Status = HealthUnhealthy
		}
	}
	return newTransition(instance, from, h.Status, r.Start, detail, h.FailingStreak)
}

// ObserveFast applies a probe result taken faster than the configured
// Interval, as a caller does until an instance is first healthy so that a
// release need not wait a whole interval for a service that is already
// up. A success counts at once; a failure counts only once per Interval
// (counted from the start), so probing fast never makes an instance
// unhealthy sooner than Docker's pace would, and a service that takes a
// moment to listen is not reported unhealthy on its way to healthy.
func (t *Tracker) ObserveFast(instance string, r ProbeResult) (Transition, bool) {
	t.mu.Lock()
	h := t.instances[instance]
	if h == nil {
		h = &InstanceHealth{Status: HealthStarting, Started: r.Start}
		t.instances[instance] = h
	}
	if !r.OK || r.Duration > t.cfg.Timeout {
		since := h.Started
		if h.lastCounted.After(since) {
			since = h.lastCounted
		}
		if r.Start.Sub(since) < t.cfg.Interval {
			h.LastProbe, h.LastDetail = r.Start, r.Detail
			t.mu.Unlock()
			return Transition{}, false
		}
		h.lastCounted = r.Start
	}
	t.mu.Unlock()
	return t.Observe(instance, r)
}

// State returns what the tracker knows of instance.
func (t *Tracker) State(instance string) (InstanceHealth, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.instances[instance]
	if h == nil {
		return InstanceHealth{}, false
	}
	return *h, true
}

// NextProbe returns when instance should next be probed: Interval after
// the last probe began, or after it started if it has not been probed.
// Stopped and unknown instances are not probed.
func (t *Tracker) NextProbe(instance string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.instances[instance]
	if h == nil || h.Status == HealthStopped {
		return time.Time{}, false
	}
	last := h.Started
	if h.LastProbe.After(last) {
		last = h.LastProbe
	}
	return last.Add(t.cfg.Interval), true
}

func newTransition(instance string, from, to Health, at time.Time, detail string, streak int) (Transition, bool) {
	if from == to {
		return Transition{}, false
	}
	return Transition{Instance: instance, From: from, To: to, At: at, Detail: detail, FailingStreak: streak}, true
}
