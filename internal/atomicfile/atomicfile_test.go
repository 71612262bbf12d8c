package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// onlyFile fails unless dir holds name alone: no temporary file is left.
func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %q, want [%s]", names, name)
	}
}

func TestWriteReplacesContentAndMode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(string, []byte, fs.FileMode) error
	}{
		{"Write", Write},
		{"WriteCache", WriteCache},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "index.json")
			if err := tc.write(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(path, []byte("new content"), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != "new content" {
				t.Fatalf("read %q, %v", got, err)
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
			}
			onlyFile(t, dir, "index.json")
		})
	}
}

func TestWriteFailureLeavesTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := Write(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory cannot be renamed over by a file: the write fails
	// after the temporary file is made, which must go.
	sub := filepath.Join(dir, "d")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(sub, []byte("new"), 0o644); err == nil {
		t.Fatal("Write over a non-empty directory succeeded")
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Fatalf("the other file changed: %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("a temporary file is left: %d entries", len(entries))
	}
	if err := Write(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); err == nil {
		t.Fatal("Write into a missing directory succeeded")
	}
}

// Writers of one file at once: a reader always sees one writer's whole
// content, and the last file is one writer's whole content.
func TestConcurrentWritesNeverMix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	const writers, rounds = 8, 25
	content := func(w int) []byte { return bytes.Repeat([]byte{byte('a' + w)}, 64<<10) }
	if err := Write(path, content(0), 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds+rounds)
	for w := range writers {
		wg.Go(func() {
			for range rounds {
				if err := WriteCache(path, content(w), 0o644); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		for range rounds {
			b, err := os.ReadFile(path)
			if err != nil {
				errs <- err
				continue
			}
			if !whole(b, writers) {
				errs <- fmt.Errorf("a reader saw a mixed or partial file (%d bytes)", len(b))
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b, _ := os.ReadFile(path)
	if !whole(b, writers) {
		t.Fatalf("the file is mixed or partial (%d bytes)", len(b))
	}
	onlyFile(t, dir, "state.json")
}

func whole(b []byte, writers int) bool {
	if len(b) != 64<<10 || b[0] < 'a' || int(b[0]-'a') >= writers {
		return false
	}
	return bytes.Count(b, b[:1]) == len(b)
}

// Of several creators of one file, one creates it and the others are told
// it exists; the file is the winner's, whole.
func TestCreateIsExclusive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	const creators = 8
	results := make(chan error, creators)
	var wg sync.WaitGroup
	for c := range creators {
		wg.Go(func() { results <- Create(path, fmt.Appendf(nil, "key %d\n", c), 0o600) })
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("Create: %v, want nil or fs.ErrExist", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creators won, want 1", won)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("key ")) || !bytes.HasSuffix(b, []byte("\n")) {
		t.Fatalf("the file is %q, %v", b, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	onlyFile(t, dir, "key")
}
