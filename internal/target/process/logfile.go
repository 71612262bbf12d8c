package process

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/ladderhq/ladder/internal/render"
)

// Defaults for a service's captured output, as Docker's json-file driver
// is usually configured: rotate at 10 MiB, keep 3 files. A stack changes
// them per service with Compose's logging.options max-size and max-file.
const (
	DefaultLogMaxSize  = 10 << 20
	DefaultLogMaxFiles = 3
)

// serviceLog appends a service's output, all slots interleaved, one line
// per record: "<RFC 3339 time> <slot> <text>". It rotates SERVICE.log to
// SERVICE.log.1 (and .1 to .2 ...) once it would pass maxSize, keeping
// maxFiles files in all, so a service printing as fast as it can never
// fills the disk.
type serviceLog struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
	buf      []byte
}

func logPath(stateDir string, site render.SiteRef, service string) string {
	return filepath.Join(stateDir, "logs", site.Env, site.Site, service+".log")
}

// rotatedPath is the n-th older file of a log (n >= 1).
func rotatedPath(path string, n int) string { return fmt.Sprintf("%s.%d", path, n) }

func openServiceLog(path string, limits *render.LogLimits) (*serviceLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	l := &serviceLog{path: path, f: f, size: fi.Size()}
	l.setLimits(limits)
	return l, nil
}

// setLimits applies a release's limits (nil: the defaults).
func (l *serviceLog) setLimits(limits *render.LogLimits) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maxSize, l.maxFiles = DefaultLogMaxSize, DefaultLogMaxFiles
	if limits != nil && limits.MaxSize > 0 {
		l.maxSize = limits.MaxSize
	}
	if limits != nil && limits.MaxFiles > 0 {
		l.maxFiles = limits.MaxFiles
	}
}

// write appends one record per line, all stamped ts, in as few writes as
// rotation allows: capture hands over everything one read of the pipe
// brought, so a flood costs one write per 64 KiB, not one per line.
func (l *serviceLog) write(ts, slot string, lines []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	l.buf = l.buf[:0]
	for _, line := range lines {
		rec := int64(len(ts) + 1 + len(slot) + 1 + len(line) + 1)
		if pending := l.size + int64(len(l.buf)); pending > 0 && pending+rec > l.maxSize {
			l.flush()
			l.rotate()
		}
		l.buf = append(l.buf, ts...)
		l.buf = append(l.buf, ' ')
		l.buf = append(l.buf, slot...)
		l.buf = append(l.buf, ' ')
		l.buf = append(l.buf, line...)
		l.buf = append(l.buf, '\n')
	}
	l.flush()
	if cap(l.buf) > 1<<20 {
		l.buf = nil // one huge batch must not pin its buffer
	}
}

func (l *serviceLog) flush() {
	if len(l.buf) == 0 || l.f == nil {
		return
	}
	n, _ := l.f.Write(l.buf)
	l.size += int64(n)
	l.buf = l.buf[:0]
}

// rotate shifts SERVICE.log to .1, .1 to .2 ..., dropping the oldest, and
// starts an empty SERVICE.log. Readers following the log notice the new
// file (see follow).
func (l *serviceLog) rotate() {
	l.f.Close()
	l.f = nil
	if l.maxFiles > 1 {
		_ = os.Remove(rotatedPath(l.path, l.maxFiles-1))
		for n := l.maxFiles - 2; n >= 1; n-- {
			_ = os.Rename(rotatedPath(l.path, n), rotatedPath(l.path, n+1))
		}
		_ = os.Rename(l.path, rotatedPath(l.path, 1))
	}
	// Files beyond a lowered max-file are not left behind either.
	for n := max(l.maxFiles, 1); ; n++ {
		if os.Remove(rotatedPath(l.path, n)) != nil {
			break
		}
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_TRUNC|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	l.f, l.size = f, 0
}

func (l *serviceLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
}
