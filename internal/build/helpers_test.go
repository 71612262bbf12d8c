package build

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store"
)

// fakeStore implements the two artifact methods of store.Store in memory;
// the embedded nil interface makes any other call panic, which is what a
// test wants if the builder ever made one.
type fakeStore struct {
	store.Store
	mu   sync.Mutex
	arts map[[2]string]snapshot.Artifact
}

func newFakeStore() *fakeStore { return &fakeStore{arts: map[[2]string]snapshot.Artifact{}} }

func (f *fakeStore) PutArtifact(_ context.Context, a snapshot.Artifact) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.arts[[2]string{a.Service, a.Inputs}] = a
	return nil
}

func (f *fakeStore) LookupArtifact(_ context.Context, service, inputs string) (snapshot.Artifact, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.arts[[2]string{service, inputs}]
	if !ok {
		return snapshot.Artifact{}, store.ErrNotFound
	}
	return a, nil
}

// oldTime is given to every fixture file and directory, so that the stat
// cache trusts them (they are well outside the racy window).
var oldTime = time.Now().Add(-time.Hour).Truncate(time.Second)

// copyFixture copies testdata/shop into a fresh temp dir and returns the
// copy's root.
func copyFixture(tb testing.TB) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "shop")
	src := filepath.Join("testdata", "shop")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
	age(tb, dst)
	return dst
}

// age sets the mtime of everything under root to oldTime, deepest first so
// that setting a file's time does not disturb its directory's afterwards.
func age(tb testing.TB, root string) {
	tb.Helper()
	var paths []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	})
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	for _, p := range paths {
		if err := os.Chtimes(p, oldTime, oldTime); err != nil {
			tb.Fatal(err)
		}
	}
}

// stackFor is a Compose project of the fixture at dir with the named
// services (each built from services/<name>, api exposing 8080) plus a
// service without a build section, which the builder must skip.
func stackFor(dir string, services ...string) *spec.Stack {
	proj := &types.Project{Name: "shop", WorkingDir: dir, Services: types.Services{
		"db": {Name: "db", ContainerSpec: types.ContainerSpec{Image: "postgres:16"}},
	}}
	for _, name := range services {
		svc := types.ServiceConfig{
			Name:         name,
			WorkloadSpec: types.WorkloadSpec{Build: &types.BuildConfig{Context: "services/" + name, Dockerfile: "Dockerfile"}},
		}
		if name == "api" {
			svc.WorkloadSpec.Ports = []types.ServicePortConfig{{Target: 8080, Published: "8080", Protocol: "tcp"}}
		}
		proj.Services[name] = svc
	}
	return &spec.Stack{Name: "shop", File: filepath.Join(dir, "compose.yaml"), Compose: proj}
}

// harness is a Builder that counts the go commands it runs.
type harness struct {
	*Builder
	store               *fakeStore
	dir                 string
	builds, lists, envs atomic.Int32
	events              []Progress
}

func newHarness(tb testing.TB, dir string, st *fakeStore) *harness {
	tb.Helper()
	if dir == "" {
		dir = filepath.Join(tb.TempDir(), "state")
	}
	if st == nil {
		st = newFakeStore()
	}
	h := &harness{store: st, dir: dir}
	h.Builder = New(Options{
		Store: st,
		Dir:   dir,
		// The fixture is stdlib-only: nothing may be downloaded.
		Env:      []string{"GOPROXY=off"},
		Progress: func(p Progress) { h.events = append(h.events, p) },
		Logger:   slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Recipes:  true,
	})
	h.goHook = func(args []string) {
		switch args[0] {
		case "build":
			h.builds.Add(1)
		case "list":
			h.lists.Add(1)
		case "env":
			h.envs.Add(1)
		}
	}
	// A recipe proven in the background reads the test's sources and
	// logs to its log: both must outlive it. Cleanups run last first, so
	// this runs before the test's directories are removed.
	tb.Cleanup(h.memo.WaitProofs)
	return h
}

// testWriter sends a builder's log to the test's log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func (h *harness) reset() {
	h.builds.Store(0)
	h.lists.Store(0)
	h.envs.Store(0)
	h.events = nil
}

// build runs Build and fails the test on error.
func (h *harness) build(tb testing.TB, stack *spec.Stack) (map[string]snapshot.Artifact, *Report) {
	tb.Helper()
	h.reset()
	arts, rep, err := h.Build(context.Background(), stack)
	if err != nil {
		tb.Fatalf("Build: %v", err)
	}
	return arts, rep
}

// tmpLeft lists what the builds left in the builder's tmp, once the
// recipes being proven in the background (each with a temporary
// directory of its own) are done.
func tmpLeft(h *harness) []os.DirEntry {
	h.memo.WaitProofs()
	left, _ := os.ReadDir(filepath.Join(h.dir, "tmp"))
	return left
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}
