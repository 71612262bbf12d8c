package build

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// inputsOf computes the inputs hashes of the named services in one session,
// as Build does, and saves the stat cache.
func inputsOf(t *testing.T, h *harness, src string, services ...string) map[string]string {
	t.Helper()
	jobs, errs := h.plan(stackFor(src, services...))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ctx := context.Background()
	s, err := h.newSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, j := range jobs {
		if out[j.service], err = s.inputs(ctx, j, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.cache.save(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInputsWarmPathRunsNoGo(t *testing.T) {
	src := copyFixture(t)
	h := newHarness(t, "", nil)
	cold := inputsOf(t, h, src, "api", "worker")
	if h.envs.Load() != 1 || h.lists.Load() != 2 {
		t.Fatalf("cold: go env %d, go list %d times; want 1 and 2", h.envs.Load(), h.lists.Load())
	}
	h.reset()
	warm := inputsOf(t, h, src, "api", "worker")
	if h.envs.Load() != 0 || h.lists.Load() != 0 {
		t.Fatalf("warm: go env %d, go list %d times; want 0", h.envs.Load(), h.lists.Load())
	}
	if cold["api"] != warm["api"] || cold["worker"] != warm["worker"] || cold["api"] == cold["worker"] {
		t.Fatalf("cold %v, warm %v", cold, warm)
	}

	// Another toolchain configuration (here GOFLAGS) is another key: go env
	// and go list run again, and the selected flags change the hash.
	h.opts.Env = append(h.opts.Env, "GOFLAGS=-tags=extra")
	h.reset()
	tagged := inputsOf(t, h, src, "api")
	if h.envs.Load() != 1 || h.lists.Load() != 1 || tagged["api"] == cold["api"] {
		t.Fatalf("new GOFLAGS: go env %d, go list %d, hash changed %v", h.envs.Load(), h.lists.Load(), tagged["api"] != cold["api"])
	}
}

// Files written moments ago are hashed correctly but not trusted next time:
// a second write within the same mtime tick would go unnoticed.
func TestInputsRacyFilesAreNotCached(t *testing.T) {
	src := copyFixture(t)
	h := newHarness(t, "", nil)
	inputsOf(t, h, src, "api")
	writeFile(t, filepath.Join(src, "services/api/main.go"), readFile(t, filepath.Join(src, "services/api/main.go"))+"\n")
	h.reset()
	inputsOf(t, h, src, "api")
	h.reset()
	inputsOf(t, h, src, "api")
	if h.lists.Load() != 1 {
		t.Fatalf("racy entry was trusted: go list ran %d times, want 1", h.lists.Load())
	}
	age(t, src)
	inputsOf(t, h, src, "api")
	h.reset()
	inputsOf(t, h, src, "api")
	if h.lists.Load() != 0 {
		t.Fatalf("settled entry not trusted: go list ran %d times", h.lists.Load())
	}
}

// An edit that keeps size and mtime (as rsync -t or cp -p can) still
// changes the inode change time, which the stat cache compares too.
func TestInputsSameSizeAndMtimeEdit(t *testing.T) {
	src := copyFixture(t)
	h := newHarness(t, "", nil)
	before := inputsOf(t, h, src, "api", "worker")
	greet := filepath.Join(src, "internal/greet/greet.go")
	content := readFile(t, greet)
	edited := strings.Replace(content, `"hello, "`, `"howdy, "`, 1)
	if len(edited) != len(content) || edited == content {
		t.Fatal("the edit must keep the size")
	}
	writeFile(t, greet, edited)
	if err := os.Chtimes(greet, oldTime, oldTime); err != nil {
		t.Fatal(err)
	}
	after := inputsOf(t, h, src, "api", "worker")
	if after["api"] == before["api"] || after["worker"] == before["worker"] {
		t.Fatalf("a same-size, same-mtime edit of the shared package went unnoticed")
	}
}

// The hash names files by import path, so it does not depend on where the
// module is checked out, and it ignores what the build does not read.
func TestInputsIndependentOfLocation(t *testing.T) {
	a := inputsOf(t, newHarness(t, "", nil), copyFixture(t), "api", "worker")
	b := inputsOf(t, newHarness(t, "", nil), copyFixture(t), "api", "worker")
	if a["api"] != b["api"] || a["worker"] != b["worker"] {
		t.Fatalf("two checkouts hash differently: %v %v", a, b)
	}
	src := copyFixture(t)
	writeFile(t, filepath.Join(src, "README.md"), "not an input\n")
	writeFile(t, filepath.Join(src, "services/api/notes.txt"), "not embedded\n")
	c := inputsOf(t, newHarness(t, "", nil), src, "api", "worker")
	if !reflect.DeepEqual(c["api"], a["api"]) {
		t.Fatal("a file the build does not read changed the hash")
	}
}
