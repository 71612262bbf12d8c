package drift

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// Kind is what differs about an instance or a service.
type Kind string

// Kinds of drift.
const (
	// KindMissing: a desired slot has no instance at all.
	KindMissing Kind = "missing"
	// KindUnexpected: an instance of a service that is not desired, or one
	// beyond the desired slots (a leftover or a hand-started copy).
	KindUnexpected Kind = "unexpected"
	// KindStopped: an instance in a desired slot is not running (a job
	// that ran to completion is not reported).
	KindStopped    Kind = "stopped"
	KindImage      Kind = "image"
	KindEntrypoint Kind = "entrypoint"
	KindCommand    Kind = "command"
	KindEnv        Kind = "env"
	KindPort       Kind = "port"
	// KindReplicas: fewer instances run than desired; it concerns the
	// service, not one instance.
	KindReplicas  Kind = "replicas"
	KindLabel     Kind = "label"
	KindUnhealthy Kind = "unhealthy"
	// KindBinary: a native process runs an executable that is no longer
	// the file it was started from (replaced or removed on disk).
	KindBinary Kind = "binary"
)

// Report is every difference between what a site should run and what it
// runs. Only services that differ are listed.
type Report struct {
	render.SiteRef
	// Snapshot is the snapshot the site should run.
	Snapshot string         `json:"snapshot"`
	Services []ServiceDrift `json:"services"`
}

// ServiceDrift is what differs about one service.
type ServiceDrift struct {
	Service string `json:"service"`
	Items   []Item `json:"items"`
}

// Item is one difference.
type Item struct {
	Kind Kind `json:"kind"`
	// Instance is the slot (or, lacking one, the runtime's name) of the
	// instance the item concerns; empty for a service-level item.
	Instance string `json:"instance,omitempty"`
	// Field is what differs within the instance: an environment variable,
	// a label key, a port ("8080/tcp").
	Field string `json:"field,omitempty"`
	// Want and Have are for people: values are quoted, an absent one reads
	// "(unset)", a secret one "<redacted>" (the comparison used the real
	// values, so a changed secret is still an item). Digests are in full;
	// String shortens them.
	Want string `json:"want,omitempty"`
	Have string `json:"have,omitempty"`
}

// Texts standing in for values in Item.Want and Item.Have.
const (
	Unset       = "(unset)"
	Redacted    = "<redacted>"
	Unpublished = "(unpublished)"
	AnyPort     = "(any)"
)

// Drifted reports whether anything differs.
func (r *Report) Drifted() bool {
	for _, s := range r.Services {
		if len(s.Items) > 0 {
			return true
		}
	}
	return false
}

// marks is the first column of String: what kind of difference a line is,
// at a glance, in diff terms.
var marks = map[Kind]string{
	KindMissing:    "-",
	KindUnexpected: "+",
	KindStopped:    "!",
	KindUnhealthy:  "!",
	KindBinary:     "!",
}

// String is the report's text form, used by golden tests and `ladder
// drift`: a header, then each differing service with one line per item.
func (r *Report) String() string {
	var b strings.Builder
	differ := 0
	for _, s := range r.Services {
		if len(s.Items) > 0 {
			differ++
		}
	}
	if differ == 0 {
		fmt.Fprintf(&b, "no drift on %s (snapshot %s)\n", r.SiteRef, snapshot.Short(r.Snapshot))
		return b.String()
	}
	verb := "services differ"
	if differ == 1 {
		verb = "service differs"
	}
	fmt.Fprintf(&b, "drift on %s (snapshot %s): %d %s\n", r.SiteRef, snapshot.Short(r.Snapshot), differ, verb)
	for _, s := range r.Services {
		if len(s.Items) == 0 {
			continue
		}
		name := s.Service
		if name == "" {
			name = "(no service)"
		}
		b.WriteString(name + "\n")
		width := 0
		for _, it := range s.Items {
			width = max(width, len(it.Instance))
		}
		for _, it := range s.Items {
			b.WriteString(itemLine(it, width))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func itemLine(it Item, width int) string {
	mark := marks[it.Kind]
	if mark == "" {
		mark = "~"
	}
	line := "  " + mark + " "
	if it.Instance != "" {
		line += fmt.Sprintf("%-*s  ", width, it.Instance)
	}
	line += string(it.Kind)
	if it.Field != "" {
		line += " " + it.Field
	}
	switch {
	case it.Kind == KindUnexpected:
		if it.Have != "" {
			line += " (" + it.Have + ")"
		}
	case it.Want != "" || it.Have != "":
		want, have := it.Want, it.Have
		if it.Kind == KindImage || it.Kind == KindLabel {
			want, have = shortenHashes(want), shortenHashes(have)
		}
		line += ": want " + want + ", have " + have
	}
	return line
}

// fullHash matches a digest or a config hash in full.
var fullHash = regexp.MustCompile(`\b(sha256:)?[0-9a-f]{64}\b`)

// shortenHashes shows people digests and hashes the way the rest of ladder
// does, by their first hex digits.
func shortenHashes(s string) string {
	return fullHash.ReplaceAllStringFunc(s, func(h string) string {
		if strings.HasPrefix(h, "sha256:") {
			return "sha256:" + snapshot.Short(h)
		}
		return snapshot.Short(h)
	})
}
