package spec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The loaders read files anyone with commit access writes. Whatever the
// bytes, Load must return (no panic, no hang) a project or diagnostics
// that each name a file and say something.
//
// CI runs each target for a bounded time (scripts/test.sh); run one longer
// with: go test -run '^$' -fuzz '^FuzzLoadCompose$' -fuzztime 5m ./internal/spec/

// fuzzSeeds adds every file of the golden cases named name, and the alias
// bombs, as seeds.
func fuzzSeeds(f *testing.F, name string) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range parseArchive(string(data)).files {
			if file.name == name {
				f.Add([]byte(file.data))
			}
		}
	}
	f.Add([]byte(aliasBomb(9, 6, "") + "services:\n  web:\n    image: nginx\n    x-bomb: *a6\n"))
	f.Add([]byte("x:\n" + aliasBomb(4, 3, "  ") + "environments:\n  local:\n    values: {services: {web: {environment: {A: *a3}}}}\n"))
	f.Add([]byte("a: &a {<<: *a}\n"))
	f.Add([]byte(strings.Repeat("[", 100)))
}

// checkLoad loads dir and checks the shape of the outcome.
func checkLoad(t *testing.T, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := Load(ctx, dir, LoadOptions{})
	if ctx.Err() != nil {
		t.Fatal("Load took 10 s or more")
	}
	var ds Diagnostics
	switch {
	case err == nil:
		if p == nil || p.Stack == nil || p.Ladder == nil {
			t.Fatalf("Load returned no error and an incomplete project: %+v", p)
		}
	case errors.As(err, &ds):
		if len(ds) == 0 {
			t.Fatal("empty Diagnostics")
		}
		for _, d := range ds {
			if d.File == "" || d.Message == "" {
				t.Fatalf("diagnostic without a file or a message: %#v", d)
			}
		}
	default:
		t.Fatalf("Load returned %T, want Diagnostics: %v", err, err)
	}
}

func FuzzLoadCompose(f *testing.F) {
	fuzzSeeds(f, "compose.yaml")
	f.Fuzz(func(t *testing.T, compose []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), compose, 0o644); err != nil {
			t.Fatal(err)
		}
		checkLoad(t, dir)
	})
}

func FuzzLoadLadder(f *testing.F) {
	fuzzSeeds(f, "ladder.yaml")
	f.Fuzz(func(t *testing.T, ladder []byte) {
		dir := t.TempDir()
		compose := "services:\n  web:\n    image: nginx\n    ports: [\"8080\"]\n  db:\n    image: postgres\n"
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ladder.yaml"), ladder, 0o644); err != nil {
			t.Fatal(err)
		}
		checkLoad(t, dir)
	})
}
