package spec

import (
	"strings"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	compose := "services:\n  api:\n    image: api\n"
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"compose.yaml": compose, "ladder.yaml": `environments:
  local: {}
retention:
  rawSamples: 30m
  events: "0"
`})
	p := mustLoad(t, dir, LoadOptions{})
	r := p.Ladder.Retention
	if r.RawSamples == nil || *r.RawSamples != 30*time.Minute || r.Events == nil || *r.Events != 0 || r.Samples != nil || r.Audit != nil {
		t.Errorf("retention %+v: want rawSamples 30m, events 0, the rest unset", r)
	}

	bad := t.TempDir()
	writeFiles(t, bad, map[string]string{"compose.yaml": compose, "ladder.yaml": `environments:
  local: {}
retention:
  rawSamples: 0s
  bucket: 2h
  events: -1h
`})
	var got []string
	for _, d := range loadDiags(t, bad, LoadOptions{}) {
		got = append(got, d.String())
	}
	text := strings.Join(got, "\n")
	for _, want := range []string{
		"ladder.yaml:4:15: retention.rawSamples: must be longer than 0",
		"ladder.yaml:6:11: retention.events: must not be negative",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("diagnostics:\n%s\nwant a line %q", text, want)
		}
	}
}
