package spec

import (
	"fmt"
	"time"
)

// RetentionPolicy is ladder.yaml's retention: how long the store keeps
// what would otherwise grow without bound. Each is a Go duration ("1h",
// "168h"); for samples, events and audit "0" means forever. Unset fields
// take the store's defaults: raw samples 1h, folded into 1m buckets kept
// 168h (7 days), events 2160h (90 days), audit forever.
type RetentionPolicy struct {
	// RawSamples is how long telemetry samples are kept as scraped.
	RawSamples *time.Duration `yaml:"rawSamples" json:"rawSamples,omitempty"`
	// Bucket is the span older samples are folded into.
	Bucket *time.Duration `yaml:"bucket" json:"bucket,omitempty"`
	// Samples is how long folded samples are kept.
	Samples *time.Duration `yaml:"samples" json:"samples,omitempty"`
	// Events is how long events are kept.
	Events *time.Duration `yaml:"events" json:"events,omitempty"`
	// Audit is how long audit entries are kept.
	Audit *time.Duration `yaml:"audit" json:"audit,omitempty"`
}

// check returns a message per field that cannot work, keyed by field.
func (r RetentionPolicy) check() map[string]string {
	bad := map[string]string{}
	pos := func(name string, v *time.Duration, zeroOK bool) {
		switch {
		case v == nil:
		case *v < 0:
			bad[name] = "must not be negative"
		case *v == 0 && !zeroOK:
			bad[name] = "must be longer than 0"
		case *v > 0 && *v < time.Second:
			bad[name] = fmt.Sprintf("%s is shorter than a second", *v)
		}
	}
	pos("rawSamples", r.RawSamples, false)
	pos("bucket", r.Bucket, false)
	pos("samples", r.Samples, true)
	pos("events", r.Events, true)
	pos("audit", r.Audit, true)
	if r.RawSamples != nil && r.Bucket != nil && *r.Bucket > *r.RawSamples && *r.RawSamples > 0 {
		bad["bucket"] = fmt.Sprintf("%s is longer than rawSamples (%s)", *r.Bucket, *r.RawSamples)
	}
	return bad
}
