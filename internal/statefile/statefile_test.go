package statefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

type info struct {
	Holder string `json:"holder"`
	PID    int    `json:"pid"`
}

func TestWriteReadRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engine.json")
	if _, err := Read[info](path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of a missing file: %v", err)
	}
	if err := Write(path, info{Holder: "a", PID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, info{Holder: "b", PID: 2}); err != nil {
		t.Fatal(err)
	}
	got, err := Read[info](path)
	if err != nil || got != (info{Holder: "b", PID: 2}) {
		t.Fatalf("Read = %+v, %v", got, err)
	}
	if left, _ := os.ReadDir(filepath.Dir(path)); len(left) != 1 {
		t.Errorf("the directory holds %d files, want engine.json alone", len(left))
	}
	// Someone else's file stays; one's own goes.
	RemoveIfOwned(path, func(i info) bool { return i.Holder == "a" })
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a file owned by another was removed: %v", err)
	}
	RemoveIfOwned(path, func(i info) bool { return i.Holder == "b" })
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("one's own file is still there: %v", err)
	}
	// A damaged file is nobody's to remove.
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	RemoveIfOwned(path, func(info) bool { return true })
	if _, err := os.Stat(path); err != nil {
		t.Errorf("a damaged file was removed: %v", err)
	}
}
