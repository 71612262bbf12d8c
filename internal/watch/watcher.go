package watch

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Coalesce is how long a Watcher waits by default after the last event of
// a burst before it hands the batch on. An editor's save is several events
// (write, chmod, rename of a temp file) within a millisecond or two, and
// every millisecond waited is one more between a save and the new version
// serving. A burst that does come in two batches (a `git checkout`, a
// formatter rewriting the file just saved) costs little: the second batch
// supersedes the first while the first is still building (see Run).
const Coalesce = 5 * time.Millisecond

// maxDelay bounds how long a steady stream of events holds a batch back.
const maxDelay = time.Second

// Watcher follows the paths of a set of rules.
type Watcher struct {
	// Coalesce is the quiet spell that ends a batch (default Coalesce).
	Coalesce time.Duration

	rules  []Rule
	fs     *fsnotify.Watcher
	logger *slog.Logger
}

// New starts watching every rule's path (the directories under it too
// for recursive rules). A path that does not exist yet is watched from
// its nearest existing parent.
func New(rules []Rule, logger *slog.Logger) (*Watcher, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &Watcher{Coalesce: Coalesce, rules: rules, fs: f, logger: logger}
	for _, r := range rules {
		if err := w.add(r.Path, r.Recursive); err != nil {
			f.Close()
			return nil, err
		}
	}
	return w, nil
}

func (w *Watcher) add(path string, recursive bool) error {
	fi, err := os.Stat(path)
	for errors.Is(err, fs.ErrNotExist) && filepath.Dir(path) != path {
		path = filepath.Dir(path)
		fi, err = os.Stat(path)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		// Editors replace files by renaming: watch the directory.
		return w.fs.Add(filepath.Dir(path))
	}
	if !recursive {
		return w.fs.Add(path)
	}
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if p != path && editorTemp(d.Name()) {
			return filepath.SkipDir // .git, .ladder
		}
		return w.fs.Add(p)
	})
}

// Close stops watching.
func (w *Watcher) Close() error { return w.fs.Close() }

// ErrSuperseded is the cause with which a batch's context ends when newer
// changes come in while its handler runs.
var ErrSuperseded = errors.New("superseded by newer changes")

// Run hands each coalesced batch of changed paths, sorted, to fn until ctx
// ends, one batch at a time. fn runs on a goroutine of its own while the
// events go on being read: a relevant change while fn runs ends the
// batch's context with ErrSuperseded as its cause, so that fn can drop
// work a newer save makes moot (a build of files that have changed
// since), and makes the next batch, handed on once fn has returned. When
// fn reports that it dropped work, the batch's paths come again in the
// next one. The batch after a superseded one is never superseded itself,
// so that files written without pause (a tool writing into a watched
// directory) cannot hold every rebuild back: at least every other batch
// runs to its end. When ctx ends, Run returns once fn has.
func (w *Watcher) Run(ctx context.Context, fn func(batch context.Context, paths []string) (dropped bool)) error {
	pending := map[string]bool{}
	var (
		quiet, deadline <-chan time.Time
		due             bool          // pending's quiet spell (or maxDelay) is over
		running         chan []string // gets what fn dropped when it returns; nil when idle
		supersede       context.CancelCauseFunc
		// superseded: the batch handed on last was superseded (or, while
		// it runs, may not be: the one before it was).
		superseded, mayEnd bool
	)
	defer func() {
		if running != nil {
			<-running
		}
	}()
	flush := func() {
		paths := make([]string, 0, len(pending))
		for p := range pending {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		clear(pending)
		quiet, deadline, due = nil, nil, false
		batch, cancel := context.WithCancelCause(ctx)
		supersede, mayEnd, superseded = cancel, !superseded, false
		done := make(chan []string, 1)
		running = done
		go func() {
			defer cancel(nil)
			if fn(batch, paths) {
				done <- paths
			}
			close(done)
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fs.Events:
			if !ok {
				return nil
			}
			if !w.relevant(ev.Name) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					// A new directory under a recursive rule: follow it, and
					// count the files that landed in it before we did.
					w.addNew(ev.Name, pending)
				}
			}
			pending[ev.Name] = true
			quiet, due = time.After(w.Coalesce), false
			if deadline == nil {
				deadline = time.After(maxDelay)
			}
			if running != nil && mayEnd {
				supersede(ErrSuperseded)
				superseded = true
			}
		case err, ok := <-w.fs.Errors:
			if !ok {
				return nil
			}
			w.logger.Warn("watching files", "err", err)
		case <-quiet:
			quiet, due = nil, true
		case <-deadline:
			deadline, due = nil, true
		case dropped := <-running:
			running = nil
			for _, p := range dropped {
				pending[p] = true
			}
		}
		if due && running == nil && len(pending) > 0 {
			flush()
		}
	}
}

// relevant reports whether any rule matches path, or path is a directory
// a recursive rule covers.
func (w *Watcher) relevant(path string) bool {
	for _, r := range w.rules {
		if _, ok := r.Match(path); ok {
			return true
		}
	}
	return false
}

func (w *Watcher) addNew(dir string, pending map[string]bool) {
	for _, r := range w.rules {
		if _, ok := r.Match(dir); !ok || !r.Recursive {
			continue
		}
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				if p != dir && editorTemp(d.Name()) {
					return filepath.SkipDir
				}
				_ = w.fs.Add(p)
				return nil
			}
			pending[p] = true
			return nil
		})
		return
	}
}
