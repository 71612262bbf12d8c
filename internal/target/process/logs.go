package process

import (
	"bufio"
	"bytes"
	"context"
	"errors"
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

// logFile is one open file of a log with its size when it was opened.
type logFile struct {
	f    *os.File
	size int64
}

// openLog opens a log's files, oldest first: SERVICE.log.N ... .1, then
// SERVICE.log (nil when missing, as right after a rotation). They are
// opened newest first, and all again when a rotation moved one under
// another's name meanwhile, so the set read is one the writer left:
// renames do not move open files.
func openLog(path string) []logFile {
	for attempt := 0; ; attempt++ {
		var newestFirst []logFile
		rotated := false
		for n := 0; ; n++ {
			p := path
			if n > 0 {
				p = rotatedPath(path, n)
			}
			f, err := os.Open(p)
			if err != nil {
				if n == 0 {
					newestFirst = append(newestFirst, logFile{size: -1})
					continue
				}
				break
			}
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				break
			}
			for _, o := range newestFirst {
				if o.f != nil {
					if ofi, err := o.f.Stat(); err == nil && os.SameFile(fi, ofi) {
						rotated = true
					}
				}
			}
			newestFirst = append(newestFirst, logFile{f: f, size: fi.Size()})
			if rotated {
				break
			}
		}
		if rotated && attempt < 3 {
			closeLog(newestFirst)
			continue
		}
		out := make([]logFile, len(newestFirst))
		for i, lf := range newestFirst {
			out[len(out)-1-i] = lf
		}
		return out
	}
}

func closeLog(files []logFile) {
	for _, lf := range files {
		if lf.f != nil {
			lf.f.Close()
		}
	}
}

// tailBlock is how much of a file is read at a time when looking for the
// start of the last lines, backwards from the end.
const tailBlock = 64 << 10

// tailStart finds where the last n records of files (oldest first)
// begin: the index of a file and an offset in it. It reads backwards from
// the end, a block at a time, counting newlines only, so the time and
// memory it takes depend on n and the length of those lines, not on the
// size of the log.
func tailStart(files []logFile, n int) (int, int64, error) {
	buf := make([]byte, tailBlock)
	for i := len(files) - 1; i >= 0; i-- {
		f, size := files[i].f, files[i].size
		if f == nil || size <= 0 {
			continue
		}
		// The last byte ends the file's last record: a line starts after
		// every newline before it, and at the file's start.
		end := size - 1
		for end > 0 {
			chunk := min(int64(len(buf)), end)
			start := end - chunk
			if _, err := f.ReadAt(buf[:chunk], start); err != nil && !errors.Is(err, io.EOF) {
				return 0, 0, err
			}
			block := buf[:chunk]
			for {
				j := bytes.LastIndexByte(block, '\n')
				if j < 0 {
					break
				}
				if n--; n == 0 {
					return i, start + int64(j) + 1, nil
				}
				block = block[:j]
			}
			end = start
		}
		if n--; n == 0 {
			return i, 0, nil
		}
	}
	return 0, 0, nil
}

// tailScanned is called once tailFile knows where to start; tests use it
// to write to the log at that very moment.
var tailScanned = func() {}

// maxLineRead bounds one line read from a log file; a longer one (written
// before capture split long lines) is passed on in pieces.
const maxLineRead = 64 << 10

// tailFile writes the records of a log (its rotated files included) to
// emit: all of them, or the last opts.Tail, as the log was when it began
// (a service still writing does not make it read more); then, with
// opts.Follow, new ones as they come, across rotations, until ctx ends.
func tailFile(ctx context.Context, path string, opts target.LogOptions, emit func(string)) error {
	files := openLog(path)
	last := len(files) - 1
	cur := files[last].f
	defer func() { closeLog(files[:last]) }()
	if cur == nil && last == 0 && !opts.Follow {
		_, err := os.Stat(path)
		return err
	}
	first, offset := 0, int64(0)
	if opts.Tail > 0 {
		var err error
		if first, offset, err = tailStart(files, opts.Tail); err != nil {
			closeLog(files[last:])
			return err
		}
	}
	tailScanned()
	for i := first; i <= last; i++ {
		lf := files[i]
		if lf.f == nil {
			continue
		}
		from := int64(0)
		if i == first {
			from = offset
		}
		if err := readRecords(bufio.NewReaderSize(io.NewSectionReader(lf.f, from, max(lf.size-from, 0)), maxLineRead), emit); err != nil {
			closeLog(files[last:])
			return err
		}
	}
	if !opts.Follow {
		closeLog(files[last:])
		return nil
	}
	if cur != nil {
		_, _ = cur.Seek(files[last].size, io.SeekStart)
	}
	return follow(ctx, path, cur, emit)
}

// readRecords emits every complete record of r.
func readRecords(r *bufio.Reader, emit func(string)) error {
	for {
		line, err := r.ReadSlice('\n')
		switch {
		case err == nil:
			emit(string(line[:len(line)-1]))
		case errors.Is(err, bufio.ErrBufferFull):
			emit(string(line))
		case errors.Is(err, io.EOF):
			if len(line) > 0 {
				emit(string(line))
			}
			return nil
		default:
			return err
		}
	}
}

// follow emits the records appended to the log from cur on, and switches
// to the new file when the writer rotates it (after reading what was left
// in the old one). cur may be nil when the log does not exist yet.
func follow(ctx context.Context, path string, cur *os.File, emit func(string)) error {
	var r *bufio.Reader
	if cur != nil {
		r = bufio.NewReaderSize(cur, maxLineRead)
	}
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	var partial []byte
	for {
		if r != nil {
			for {
				line, err := r.ReadSlice('\n')
				if err == nil {
					emit(string(append(partial, line[:len(line)-1]...)))
					partial = partial[:0]
					continue
				}
				if errors.Is(err, bufio.ErrBufferFull) {
					emit(string(append(partial, line...)))
					partial = partial[:0]
					continue
				}
				partial = append(partial, line...)
				break
			}
		}
		// A different file under the name means the writer rotated: what
		// was left of the old one has just been read.
		if fi, err := os.Stat(path); err == nil {
			var same bool
			if cur != nil {
				if cfi, err := cur.Stat(); err == nil {
					same = os.SameFile(fi, cfi)
				}
			}
			if !same {
				if f, err := os.Open(path); err == nil {
					if cur != nil {
						cur.Close()
					}
					if len(partial) > 0 {
						emit(string(partial))
						partial = partial[:0]
					}
					cur, r = f, bufio.NewReaderSize(f, maxLineRead)
					continue
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}
