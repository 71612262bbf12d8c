package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled: no PostgreSQL server binaries were found.
var ErrNotInstalled = errors.New("PostgreSQL is not installed (apt-get install postgresql, or set LADDER_PG_BINDIR)")

// readyTimeout bounds how long a new server may take to accept connections.
const readyTimeout = 60 * time.Second

// Server is a PostgreSQL server owned by the test process.
type Server struct {
	// Dir holds the data directory, the socket and the log.
	Dir  string
	Port int

	cmd    *exec.Cmd
	exited chan struct{}
	err    error // why the process exited, once exited is closed
	dbs    atomic.Int64
}

// BinDir finds the directory of initdb and postgres: LADDER_PG_BINDIR,
// else the newest /usr/lib/postgresql/N/bin (Debian's layout), else the
// PATH.
func BinDir() (string, error) {
	if d := os.Getenv("LADDER_PG_BINDIR"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNotInstalled
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Options adjust a server started with Start.
type Options struct {
	// Durable keeps PostgreSQL's default fsync of every commit. Without it
	// the server runs with fsync off: test databases are thrown away, and
	// an fsync per commit would make the suite measure the disk.
	Durable bool
}

// Start initialises a data directory and starts a server on it. Stop it
// with Stop (or Kill). PostgreSQL refuses to run as root, so as root the
// server runs as the postgres user (Debian's package creates it), which
// then owns the directory.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	// /tmp rather than a test's TempDir: the postgres user must reach it,
	// and the socket path must stay short.
	dir, err := os.MkdirTemp("", "ladder-pg-")
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// A free port can be taken by someone else before the server binds it;
	// try a few.
	for attempt := 0; ; attempt++ {
		s, err := start(ctx, bin, dir, cred, opts)
		if err == nil {
			return s, nil
		}
		if attempt == 2 || ctx.Err() != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// credential returns who the server runs as (nil: the current user), after
// giving dir to that user.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func start(ctx context.Context, bin, dir string, cred *syscall.Credential, opts Options) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := []string{"-D", filepath.Join(dir, "data"), "-k", dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"}
	if !opts.Durable {
		args = append(args, "-F")
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Its own process group, so a signal to the test's group (Ctrl-C)
		// does not reach it before Stop does; and killed with the test
		// process if that dies first.
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &Server{Dir: dir, Port: port, cmd: cmd, exited: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.kill()
		log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
		return nil, fmt.Errorf("%w\n%s", err, tail(log, 2000))
	}
	return s, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited before it was ready: %v", s.err)
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready after %s: %w", readyTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// DSN is the URL of database db on s, as the postgres superuser over TCP.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// CreateDB creates a new, empty database with a unique name (prefixed
// with prefix) and returns its DSN.
func (s *Server) CreateDB(ctx context.Context, prefix string) (string, error) {
	name := fmt.Sprintf("%s_%d", sanitize(prefix), s.dbs.Add(1))
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.DSN(name), nil
}

// CreateSchema creates a new, empty schema with a unique name (prefixed
// with prefix) in database db, and returns a DSN whose connections use it
// (search_path). Far cheaper than a database - PostgreSQL copies a
// template and checkpoints for each CREATE and DROP DATABASE - and as
// independent for a store, whose tables all live in that schema.
func (s *Server) CreateSchema(ctx context.Context, db, prefix string) (string, error) {
	name := fmt.Sprintf("%s_%d", sanitize(prefix), s.dbs.Add(1))
	conn, err := pgx.Connect(ctx, s.DSN(db))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create schema %s: %w", name, err)
	}
	return s.DSN(db) + "&search_path=" + name, nil
}

// DropDB drops the database dsn names, disconnecting whoever is still on
// it.
func (s *Server) DropDB(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Database}.Sanitize()+" WITH (FORCE)")
	return err
}

// sanitize keeps a database name to lower-case letters, digits and
// underscores, and short (PostgreSQL cuts names at 63 bytes).
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 || b.String()[0] >= '0' && b.String()[0] <= '9' {
		return "t_" + b.String()
	}
	return b.String()
}

// Stop shuts the server down (a fast shutdown: sessions are disconnected)
// and removes its directory.
func (s *Server) Stop() error {
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			s.kill()
		}
	}
	return os.RemoveAll(s.Dir)
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
// The directory is kept (Stop removes it).
func (s *Server) Kill() { s.kill() }

func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// The server a test binary shares, started on first use.
var shared struct {
	mu      sync.Mutex
	srv     *Server
	err     error
	started bool
}

// Main runs the tests of a package that uses DB and stops the shared
// server afterwards. Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stop PostgreSQL: %v\n", err)
		}
	}
	return code
}

// Shared returns the test binary's shared server, starting it on first
// call. The returned error is remembered: a server that failed to start is
// not tried again for every test.
func Shared() (*Server, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		shared.srv, shared.err = Start(context.Background(), Options{})
	}
	return shared.srv, shared.err
}

// Require returns the shared server, or ends t as Unavailable says.
func Require(t testing.TB) *Server {
	t.Helper()
	srv, err := Shared()
	if err != nil {
		Unavailable(t, err)
	}
	return srv
}

// Unavailable ends t because a server could not be had: a skip on a
// developer's machine without PostgreSQL, a failure under CI=true (where
// a missing component must never pass silently) or for any other reason.
func Unavailable(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skipf("pgtest: %v", err)
	}
	t.Fatalf("pgtest: %v", err)
}

// sharedDB is the database of the shared server that Schema's schemas live
// in.
const sharedDB = "ladder_test"

var sharedDBOnce sync.Once

// Schema returns the DSN of a new, empty schema for t in a database of the
// shared server; the schema is dropped when t ends. Prefer it to DB unless
// the test needs a database of its own.
func Schema(t testing.TB) string {
	t.Helper()
	srv := Require(t)
	var err error
	sharedDBOnce.Do(func() {
		conn, cerr := pgx.Connect(context.Background(), srv.DSN("postgres"))
		if cerr != nil {
			err = cerr
			return
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), "CREATE DATABASE "+sharedDB)
	})
	if err != nil {
		t.Fatalf("pgtest: create database %s: %v", sharedDB, err)
	}
	dsn, err := srv.CreateSchema(t.Context(), sharedDB, t.Name())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := dsn[strings.LastIndex(dsn, "=")+1:]
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, srv.DSN(sharedDB))
		if err != nil {
			t.Errorf("pgtest: drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return dsn
}

// DB creates a new, empty database on the shared server for t, dropped
// when t ends, and returns its DSN.
func DB(t testing.TB) string {
	t.Helper()
	srv := Require(t)
	dsn, err := srv.CreateDB(t.Context(), t.Name())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.DropDB(context.Background(), dsn); err != nil {
			t.Errorf("pgtest: drop database: %v", err)
		}
	})
	return dsn
}
