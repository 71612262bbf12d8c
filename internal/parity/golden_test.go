package parity

import (
	"context"
	"fmt"
	goldenfile "github.com/ladderhq/ladder/internal/golden"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/spec"
)

// A golden case is a txtar-like archive: a comment saying what it checks,
// then "-- NAME --" sections. Every section but "args" and "expected" is
// a file of the project (compose.yaml, ladder.yaml, secrets/ENV.names);
// "expected" is the output.

type archive struct {
	comment string
	files   []archiveFile
}

type archiveFile struct {
	name string
	data string
}

func parseArchive(data string) archive {
	var a archive
	cur := -1
	for _, line := range strings.SplitAfter(data, "\n") {
		trimmed := strings.TrimRight(line, "\n")
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			a.files = append(a.files, archiveFile{name: strings.TrimSpace(trimmed[3 : len(trimmed)-3])})
			cur = len(a.files) - 1
			continue
		}
		if cur < 0 {
			a.comment += line
		} else {
			a.files[cur].data += line
		}
	}
	return a
}

func (a archive) format() string {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, f := range a.files {
		fmt.Fprintf(&b, "-- %s --\n%s", f.name, f.data)
	}
	return b.String()
}

func (a archive) section(name string) (string, bool) {
	for _, f := range a.files {
		if f.name == name {
			return f.data, true
		}
	}
	return "", false
}

// load writes the archive's files into a directory named "proj" and loads
// the project from it.
func (a archive) load(t testing.TB) *spec.Project {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "proj")
	for _, f := range a.files {
		if f.name == "expected" || f.name == "args" {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := spec.Load(context.Background(), dir, spec.LoadOptions{})
	if err != nil {
		t.Fatalf("loading the case: %v", err)
	}
	return p
}

// secretNames reads the archive's secrets/ENV.names sections, the way the
// CLI reads those files.
func (a archive) secretNames(env string) []string {
	data, _ := a.section("secrets/" + env + ".names")
	return strings.Fields(data)
}

// golden runs fn on each testdata/DIR/*.txtar and compares its output with
// the expected section, rewriting it with -update.
func golden(t *testing.T, dir string, fn func(t *testing.T, a archive) string) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no golden cases in testdata/%s", dir)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			a := parseArchive(string(data))
			got := fn(t, a)
			if goldenfile.Update() {
				found := false
				for i := range a.files {
					if a.files[i].name == "expected" {
						a.files[i].data, found = got, true
					}
				}
				if !found {
					a.files = append(a.files, archiveFile{name: "expected", data: got})
				}
				if err := os.WriteFile(file, []byte(a.format()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, ok := a.section("expected")
			if !ok {
				t.Fatal("no expected section (run go test -update)")
			}
			if got != want {
				t.Errorf("output differs\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}
