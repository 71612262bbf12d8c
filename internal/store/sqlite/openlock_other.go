//go:build !unix

package sqlite

// lockOpen is a no-op where flock is not available; SQLite's own locking
// (with busy_timeout) still protects the data.
func lockOpen(path string) (unlock func(), err error) { return func() {}, nil }
