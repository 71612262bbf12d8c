package process

import (
	"bytes"
	"io"
	"sync/atomic"
	"time"
)

// Capture bounds. A line longer than maxRecord is split into records of
// that size rather than ending capture. Output is read at most at
// DefaultLogRate per instance (after a burst of twice that): past it,
// capture stops reading for a while, the pipe fills and the service's
// writes wait, as with Docker's default (blocking) logging. Nothing is
// lost, and a service printing as fast as it can costs the supervising
// ladder process what reading 2 MiB/s costs, not what reading as fast as
// the service writes would (measured: about half a core at 1.6 GB/s).
const (
	maxRecord      = 16 << 10
	captureReadBuf = 64 << 10
	DefaultLogRate = 2 << 20 // bytes per second per instance
)

// budget is a token bucket over bytes of output; tokens go negative when
// a read brought more than was left, and capture waits until they are
// back.
type budget struct {
	rate, burst, tokens float64
	last                time.Time
}

func newBudget(rate float64) *budget {
	return &budget{rate: rate, burst: 2 * rate, tokens: 2 * rate}
}

// wait returns how long to wait before reading again.
func (b *budget) wait(now time.Time) time.Duration {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

func (b *budget) spend(n int) { b.tokens -= float64(n) }

// capturer turns an instance's output into log records.
type capturer struct {
	in      *instance
	partial []byte // the start of a line not ended yet, shorter than maxRecord
	lines   []string
}

// capture reads r until EOF or an error, recording every line. Once
// exited is set (the process ended) it reads what is left without
// waiting for the budget, so the last lines of a crash are kept.
func (in *instance) capture(r io.Reader, exited *atomic.Bool) {
	rate := in.t.opts.LogRate
	if rate <= 0 {
		rate = DefaultLogRate
	}
	b := newBudget(float64(rate))
	c := &capturer{in: in}
	buf := make([]byte, captureReadBuf)
	for {
		for d := b.wait(time.Now()); d > 0 && !exited.Load(); d = b.wait(time.Now()) {
			time.Sleep(min(d, 100*time.Millisecond))
		}
		n, err := r.Read(buf)
		if n > 0 {
			b.spend(n)
			c.chunk(buf[:n], time.Now())
		}
		if err != nil {
			c.finish(time.Now())
			return
		}
	}
}

func (c *capturer) chunk(data []byte, now time.Time) {
	c.lines = c.lines[:0]
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
	if len(c.partial) > 0 {
		c.add(c.partial)
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
