// Package pgtest starts a real PostgreSQL server for tests: the one
// Debian's postgresql package installs, in a temporary data directory, on a
// free port of 127.0.0.1, as the postgres user when the tests run as root.
// One server serves a whole test binary; each test gets its own database.
//
// A test package uses it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// and then, in a test, dsn := pgtest.DB(t). The server starts on first use
// and Main stops it when the tests are done. Without PostgreSQL installed,
// DB skips the test - except under CI=true, where a missing component is a
// failure.
//
// Tests that need their own server (one to stop or kill) call Start.
package pgtest
