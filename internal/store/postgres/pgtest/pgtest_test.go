package pgtest

import (
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestServerLifecycle: a server of a test's own takes connections on its
// port, Kill ends it as a crash would (its directory stays for a restart
// or a look at the log), and Stop removes the directory.
func TestServerLifecycle(t *testing.T) {
	if _, err := BinDir(); err != nil {
		Unavailable(t, err)
	}
	s, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dsn, err := s.CreateDB(t.Context(), "Life Cycle!")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect to the new database: %v", err)
	}
	var one int
	if err := conn.QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %d, %v", one, err)
	}
	conn.Close(t.Context())

	s.Kill()
	if c, err := pgx.Connect(t.Context(), dsn); err == nil {
		c.Close(t.Context())
		t.Error("connected after Kill")
	}
	if _, err := os.Stat(s.Dir); err != nil {
		t.Errorf("Kill removed the directory: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop after Kill: %v", err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("Stop left %s: %v", s.Dir, err)
	}
}

// TestSchemasAreIndependent: two schemas of the shared database do not see
// each other's tables.
func TestSchemasAreIndependent(t *testing.T) {
	a, b := Schema(t), Schema(t)
	for i, dsn := range []string{a, b} {
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		if _, err := conn.Exec(t.Context(), "CREATE TABLE t (n INT)"); err != nil {
			t.Fatalf("schema %d: CREATE TABLE: %v", i, err)
		}
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"TestConformance/Events/Time": "testconformance_events_time",
		"9lives":                      "t_9lives",
		"":                            "t_",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := sanitize(string(make([]byte, 100))); len(got) > 41 {
		t.Errorf("sanitize of a long name: %d bytes", len(got))
	}
}
