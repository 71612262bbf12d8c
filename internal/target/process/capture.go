package process

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// Capture bounds. A line longer than maxRecord is split into records of
// that size rather than ending capture; output beyond DefaultLogRate per
// instance (after a burst of logBurst) is dropped, counted, and said so
// in the log, so that a service printing as fast as it can neither fills
// the disk nor costs the supervising ladder process more than a sliver of
// a core: dropping costs a read and a newline count per 64 KiB.
const (
	maxRecord      = 16 << 10
	captureReadBuf = 64 << 10
	DefaultLogRate = 2 << 20 // bytes per second per instance
	logBurst       = 8 << 20
)

// budget is a token bucket over bytes of output.
type budget struct {
	rate, burst, tokens float64
	last                time.Time
}

func newBudget(rate float64) *budget {
	burst := max(float64(logBurst), rate)
	return &budget{rate: rate, burst: burst, tokens: burst}
}

func (b *budget) allow(n int, now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}

// capturer turns an instance's output into log records.
type capturer struct {
	in      *instance
	budget  *budget
	partial []byte // the start of a line not ended yet, shorter than maxRecord
	// skipping is set after a drop: the rest of the line cut by it is
	// dropped too, so the log resumes on a line boundary.
	skipping bool
	dropped  int64 // lines dropped since the last record
	lines    []string
}

// capture reads r until EOF or an error, recording every line.
func (in *instance) capture(r io.Reader) {
	rate := in.t.opts.LogRate
	if rate <= 0 {
		rate = DefaultLogRate
	}
	c := &capturer{in: in, budget: newBudget(float64(rate))}
	buf := make([]byte, captureReadBuf)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			c.chunk(buf[:n], time.Now())
		}
		if err != nil {
			c.finish(time.Now())
			return
		}
	}
}

func (c *capturer) chunk(data []byte, now time.Time) {
	if !c.budget.allow(len(data), now) {
		c.dropped += int64(bytes.Count(data, []byte{'\n'}))
		if len(c.partial) > 0 && bytes.IndexByte(data, '\n') < 0 {
			c.dropped++
		}
		c.partial = c.partial[:0]
		c.skipping = true
		return
	}
	c.lines = c.lines[:0]
	if c.skipping {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return
		}
		data = data[i+1:]
		c.skipping = false
	}
	if c.dropped > 0 {
		c.lines = append(c.lines, fmt.Sprintf("[ladder: %d line(s) dropped: output over %s/s]", c.dropped, sizeString(c.budget.rate)))
		c.dropped = 0
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			c.partial = append(c.partial, data...)
			for len(c.partial) >= maxRecord {
				c.add(c.partial[:maxRecord])
				c.partial = append(c.partial[:0], c.partial[maxRecord:]...)
			}
			break
		}
		line := data[:i]
		if len(c.partial) > 0 {
			line = append(c.partial, line...)
			c.partial = c.partial[:0]
		}
		for len(line) > maxRecord {
			c.add(line[:maxRecord])
			line = line[maxRecord:]
		}
		c.add(bytes.TrimSuffix(line, []byte{'\r'}))
		data = data[i+1:]
	}
	c.emit(now)
}

// finish records what is left: a last line without its newline.
func (c *capturer) finish(now time.Time) {
	c.lines = c.lines[:0]
	if len(c.partial) > 0 && !c.skipping {
		c.add(c.partial)
	}
	if c.dropped > 0 {
		c.lines = append(c.lines, fmt.Sprintf("[ladder: %d line(s) dropped: output over %s/s]", c.dropped, sizeString(c.budget.rate)))
	}
	c.emit(now)
}

func (c *capturer) add(line []byte) {
	s := string(line)
	if c.in.t.opts.Redact != nil {
		s = c.in.t.opts.Redact(s)
	}
	c.lines = append(c.lines, s)
}

func (c *capturer) emit(now time.Time) {
	if len(c.lines) == 0 {
		return
	}
	c.in.log.write(now.UTC().Format(time.RFC3339Nano), c.in.slot, c.lines)
	c.in.addLines(c.lines)
}

// sizeString writes a byte count or rate for people: 2MiB, 512KiB.
func sizeString(n float64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%gMiB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%gKiB", n/(1<<10))
	}
	return fmt.Sprintf("%gB", n)
}
