package process

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

// serviceLog appends a service's output, all slots interleaved, one line
// per record: "<RFC 3339 time> <slot> <text>".
type serviceLog struct {
	mu sync.Mutex
	f  *os.File
}

func logPath(stateDir string, site render.SiteRef, service string) string {
	return filepath.Join(stateDir, "logs", site.Env, site.Site, service+".log")
}

func openServiceLog(path string) (*serviceLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &serviceLog{f: f}, nil
}

func (l *serviceLog) write(slot, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.f, "%s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), slot, line)
}

func (l *serviceLog) close() { _ = l.f.Close() }

// Logs implements target.Target by reading the log files, so it works
// from any ladder process, not only the one supervising the site.
func (t *Target) Logs(ctx context.Context, site render.SiteRef, service string, opts target.LogOptions, w io.Writer) error {
	return ReadLogs(ctx, t.opts.StateDir, site, service, opts, w)
}

// ReadLogs writes the captured logs of service (all services when empty)
// of site to w as "service slot | text" lines.
func ReadLogs(ctx context.Context, stateDir string, site render.SiteRef, service string, opts target.LogOptions, w io.Writer) error {
	dir := filepath.Dir(logPath(stateDir, site, "x"))
	var services []string
	if service != "" {
		services = []string{service}
	} else {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if name, ok := strings.CutSuffix(e.Name(), ".log"); ok {
				services = append(services, name)
			}
		}
		sort.Strings(services)
	}
	if len(services) == 0 {
		return fmt.Errorf("no logs for %s yet", site)
	}
	var mu sync.Mutex
	emit := func(svc, rec string) {
		_, slot, text := splitRecord(rec)
		mu.Lock()
		fmt.Fprintf(w, "%s %s | %s\n", svc, slot, text)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	errs := make([]error, len(services))
	for i, svc := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = tailFile(ctx, logPath(stateDir, site, svc), opts, func(rec string) { emit(svc, rec) })
		}()
		if !opts.Follow {
			wg.Wait() // keep services in order when not following
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && service != "" {
			return fmt.Errorf("logs of %s: %w", services[i], err)
		}
	}
	return nil
}

func splitRecord(rec string) (ts, slot, text string) {
	ts, rest, _ := strings.Cut(rec, " ")
	slot, text, _ = strings.Cut(rest, " ")
	return ts, slot, text
}

func tailFile(ctx context.Context, path string, opts target.LogOptions, emit func(string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		lines = append(lines, strings.TrimSuffix(line, "\n"))
	}
	if opts.Tail > 0 && len(lines) > opts.Tail {
		lines = lines[len(lines)-opts.Tail:]
	}
	for _, l := range lines {
		emit(l)
	}
	if !opts.Follow {
		return nil
	}
	var partial string
	for {
		line, err := r.ReadString('\n')
		if err == nil {
			emit(strings.TrimSuffix(partial+line, "\n"))
			partial = ""
			continue
		}
		partial += line
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}
