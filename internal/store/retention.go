package store

import (
	"context"
	"time"
)

// Retention says how long the store keeps what grows without bound:
// telemetry samples and events. Releases, snapshots, promotions and
// approvals are the ladder's history and are never pruned; the audit
// trail is kept forever unless Audit says otherwise.
type Retention struct {
	// RawSamples is how long samples are kept as scraped.
	RawSamples time.Duration `json:"rawSamples"`
	// SampleBucket is the span older samples are folded into: one sample
	// per bucket, per environment, site, snapshot and service.
	SampleBucket time.Duration `json:"sampleBucket"`
	// Samples is how long folded samples are kept; 0 keeps them forever.
	Samples time.Duration `json:"samples"`
	// Events is how long events are kept; 0 keeps them forever.
	Events time.Duration `json:"events"`
	// Audit is how long audit entries are kept; 0 (the default) keeps
	// them forever.
	Audit time.Duration `json:"audit"`
}

// Retention defaults: at the demo's rate (about 12 samples a second) an
// hour of raw samples is about 43,000 rows, and a week of one-minute
// buckets for a dozen series about 120,000.
const (
	DefaultRawSamples   = time.Hour
	DefaultSampleBucket = time.Minute
	DefaultSamples      = 7 * 24 * time.Hour
	DefaultEvents       = 90 * 24 * time.Hour
)

// DefaultRetention is the retention of a ladder file that sets none.
func DefaultRetention() Retention {
	return Retention{
		RawSamples: DefaultRawSamples, SampleBucket: DefaultSampleBucket,
		Samples: DefaultSamples, Events: DefaultEvents,
	}
}

// Pruned counts what one Prune did.
type Pruned struct {
	// Folded raw samples became Buckets folded samples.
	Folded, Buckets int64
	// Samples, Events and Audit entries were deleted.
	Samples, Events, Audit int64
}

// Checker is a store that can tell whether it still is the store it
// opened (its file not deleted, replaced or emptied since). Check returns
// an error wrapping ErrLost or ErrDamaged when it is not; once it has, the
// store refuses every write.
type Checker interface {
	Check(ctx context.Context) error
}
