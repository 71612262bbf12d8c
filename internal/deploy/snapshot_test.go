package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
)

// TestArchivedStackRoundTrips: a snapshot whose stack is no longer the one
// on disk is rendered from its archived definition, which must load to the
// same definition: same hash, and a "$$" of the stack file (a literal "$"
// for the container's shell) still literal, not interpolated a second time.
func TestArchivedStackRoundTrips(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("compose.yaml", `name: rt
services:
  db:
    image: example.test/db:1
    command: ["/bin/sh", "-c", "echo $${PGDATA} $$HOME ${NAME:-plain}"]
    environment:
      LITERAL: "a$$b"
`)
	write("ladder.yaml", "environments:\n  local: {}\n")
	ctx := t.Context()
	p, err := spec.Load(ctx, dir, spec.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, ".ladder")
	if err := archiveStack(p, stateDir); err != nil {
		t.Fatal(err)
	}
	snap := &snapshot.Snapshot{ID: strings.Repeat("a", 64), StackHash: p.Stack.Hash}

	// The files on disk move on; the snapshot keeps its definition.
	write("compose.yaml", `name: rt
services:
  db:
    image: example.test/db:2
`)
	now, err := spec.Load(ctx, dir, spec.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := ProjectFor(ctx, now, stateDir, spec.LoadOptions{}, snap)
	if err != nil {
		t.Fatalf("ProjectFor: %v", err)
	}
	if q.Stack.Hash != p.Stack.Hash {
		t.Errorf("archived definition hashes to %s, the snapshot's is %s", q.Stack.Hash, p.Stack.Hash)
	}
	db := q.Stack.Compose.Services["db"]
	if got, want := strings.Join(db.Command, " "), "/bin/sh -c echo ${PGDATA} $HOME plain"; got != want {
		t.Errorf("command from the archive %q, want %q", got, want)
	}
	if v := db.Environment["LITERAL"]; v == nil || *v != "a$b" {
		t.Errorf("LITERAL from the archive %v, want a$b", v)
	}
	if db.Image != "example.test/db:1" {
		t.Errorf("image from the archive %q, want the snapshot's example.test/db:1", db.Image)
	}
}
