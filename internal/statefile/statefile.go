// Package statefile keeps the small JSON files in a state directory that
// say which process owns what (engine.json, agent-ENV.json): written
// whole or not at all, and removed only by the holder they name.
package statefile

import (
	"encoding/json"
	"os"

	"github.com/ladderhq/ladder/internal/atomicfile"
)

// Write writes v as indented JSON to path, through a temporary file
// renamed over it, so a reader never sees half a file.
func Write(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}

// Read decodes the JSON file at path.
func Read[T any](path string) (T, error) {
	var v T
	b, err := os.ReadFile(path)
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal(b, &v)
}

// RemoveIfOwned removes the file at path while it still says it is
// owned (owned reports it of what the file holds): a newer owner may have
// replaced it, and its file stays.
func RemoveIfOwned[T any](path string, owned func(T) bool) {
	if v, err := Read[T](path); err == nil && owned(v) {
		_ = os.Remove(path)
	}
}
