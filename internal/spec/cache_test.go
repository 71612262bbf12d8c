package spec

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The cache answers with the project it loaded while nothing it read
// changed, and loads again when ladder.yaml, compose.yaml, an env file or
// the directory's listing (a new .env) changed.
func TestCacheReloadsWhenAnInputChanges(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		// Modification times on some filesystems are coarse: make each
		// write visibly newer.
		later := time.Now().Add(time.Duration(len(text)) * time.Millisecond)
		_ = os.Chtimes(filepath.Join(dir, name), later, later)
	}
	write("compose.yaml", "services:\n  web:\n    image: busybox\n    env_file: web.env\n    environment:\n      GREETING: ${GREETING:-hello}\n")
	write("web.env", "A=1\n")
	write("ladder.yaml", "stack: compose.yaml\nenvironments:\n  local: {}\n")

	var c Cache
	load := func() *Project {
		t.Helper()
		p, err := c.Load(t.Context(), dir, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	greeting := func(p *Project) string {
		v := p.Stack.Compose.Services["web"].Environment["GREETING"]
		if v == nil {
			return ""
		}
		return *v
	}
	load() // the first load is recorded, not kept
	kept := load()
	if again := load(); again != kept {
		t.Fatal("an unchanged project was loaded again")
	}
	for _, change := range []struct {
		what string
		do   func()
	}{
		{"compose.yaml", func() {
			write("compose.yaml", "services:\n  web:\n    image: busybox\n    env_file: web.env\n    environment:\n      GREETING: ${GREETING:-bonjour}\n")
		}},
		{"an env file", func() { write("web.env", "A=22\n") }},
		{"ladder.yaml", func() {
			write("ladder.yaml", "stack: compose.yaml\nenvironments:\n  local: {}\n  dev: {from: local}\n")
		}},
		{"a new .env", func() { write(".env", "GREETING=hi\n") }},
	} {
		change.do()
		if p := load(); p == kept {
			t.Errorf("after a change of %s the cached project came back", change.what)
		}
		kept = load()
	}
	if g := greeting(kept); g != "hi" {
		t.Errorf("GREETING = %q, want hi (from the new .env)", g)
	}
	if len(kept.Ladder.Environments) != 2 {
		t.Errorf("environments %d, want 2", len(kept.Ladder.Environments))
	}
}
