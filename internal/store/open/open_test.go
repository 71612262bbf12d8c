package open

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/store/postgres"
	"github.com/ladderhq/ladder/internal/store/postgres/pgtest"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestOpenChoosesBackend(t *testing.T) {
	dir := t.TempDir()
	for _, loc := range []string{filepath.Join(dir, "a.db"), "sqlite:" + filepath.Join(dir, "b.db")} {
		s, err := Open(t.Context(), loc)
		if err != nil {
			t.Fatalf("Open(%q): %v", loc, err)
		}
		if _, ok := s.(*sqlite.Store); !ok {
			t.Errorf("Open(%q) = %T, want *sqlite.Store", loc, s)
		}
		s.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "b.db")); err != nil {
		t.Errorf("sqlite: prefix not dropped: %v", err)
	}

	dsn := pgtest.Schema(t)
	// Both URL spellings, with a password (the test server trusts any).
	for _, loc := range []string{dsn, strings.Replace(dsn, "postgres://postgres@", "postgresql://postgres:s3cret-pw@", 1)} {
		s, err := Open(t.Context(), loc)
		if err != nil {
			t.Fatalf("Open(%s): %v", Describe(loc), err)
		}
		if _, ok := s.(*postgres.Store); !ok {
			t.Errorf("Open(%s) = %T, want *postgres.Store", Describe(loc), s)
		}
		s.Close()
	}
}

// TestOpenNeverShowsPassword: a PostgreSQL store that cannot be reached,
// or a DSN that cannot be parsed, is reported without its password.
func TestOpenNeverShowsPassword(t *testing.T) {
	const pw = "hunter2-Zq9"
	// A location mistaken for a relative SQLite path would appear here.
	dir := t.TempDir()
	t.Chdir(dir)
	port := freeClosedPort(t)
	for _, loc := range []string{
		fmt.Sprintf("postgres://ladder:%s@127.0.0.1:%d/ladder?connect_timeout=2", pw, port),
		fmt.Sprintf("postgresql://ladder@127.0.0.1:%d/ladder?password=%s&connect_timeout=2", port, pw),
		fmt.Sprintf("postgres://ladder:%s@127.0.0.1:notaport/ladder", pw),
		fmt.Sprintf("postgres://ladder:%s@[::1/ladder", pw),
		fmt.Sprintf("host=127.0.0.1 port=%d user=ladder password='%s' dbname=ladder", port, pw),
		fmt.Sprintf("mysql://ladder:%s@127.0.0.1/ladder", pw),
	} {
		s, err := Open(t.Context(), loc)
		if err == nil {
			s.Close()
			t.Errorf("Open(%s): no error", Describe(loc))
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("Open error shows the password: %v", err)
		}
		if d := Describe(loc); strings.Contains(d, pw) {
			t.Errorf("Describe shows the password: %s", d)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a location was taken for a SQLite file name: %v", entries)
	}
}

// freeClosedPort returns a port of 127.0.0.1 that nothing listens on.
func freeClosedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
