package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

var _ store.Store = (*Store)(nil)

const (
	// busyTimeoutMS is how long a connection waits for another process's
	// write lock before failing with SQLITE_BUSY. Ladder's transactions are
	// short, so this only runs out if another process is stuck.
	busyTimeoutMS = 5000
	// readConns bounds the reader pool. WAL lets readers run alongside the
	// writer and each other; a handful is plenty for a dashboard and a CLI.
	readConns = 4
)

// Store is the embedded SQLite implementation of store.Store.
//
// It keeps two pools on the same file. All writes go through w, which has
// exactly one connection: SQLite admits one writer at a time anyway, so
// queueing writers in Go is cheaper and fairer than letting several
// connections of this process poll SQLite's lock. Reads go through r, whose
// connections are query_only and, thanks to WAL, never wait for the writer.
// Other processes sharing the file are serialised by SQLite's lock, waited
// for up to busyTimeoutMS.
type Store struct {
	path string
	w    writer
	r    *sql.DB

	// id is the store's identity; opened is the file as it was when
	// opened, compared with the path before every write.
	id     string
	opened os.FileInfo
	lost   atomic.Pointer[LostError]
	// marked: the identity file says the store holds releases.
	marked atomic.Bool
	markMu sync.Mutex
}

// writer is the write pool with a check before each statement: a store
// whose file was deleted, replaced or emptied refuses to write, instead of
// writing into a file nobody will ever read again.
type writer struct {
	*sql.DB
	check func() error
}

// row is what QueryRowContext returns: *sql.Row, or the check's error.
type row interface{ Scan(dest ...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (w writer) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	return w.DB.ExecContext(ctx, q, args...)
}

func (w writer) QueryRowContext(ctx context.Context, q string, args ...any) row {
	if err := w.check(); err != nil {
		return errRow{err}
	}
	return w.DB.QueryRowContext(ctx, q, args...)
}

func (w writer) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	return w.DB.BeginTx(ctx, opts)
}

// Open opens (creating if needed) the database file at path, creating its
// parent directory, and brings its schema up to date.
//
// The store's identity is recorded in the database and in IdentityFile
// beside it. Open refuses (with a *LostError) a database that is missing,
// emptied or replaced while the identity file says the store held
// releases, and a damaged one; it never silently starts a new history in
// their place. A database with data is copied into BackupDir before its
// schema is upgraded.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: open: empty database path")
	}
	// The driver splits the DSN at the first '?', so such a path cannot be
	// expressed; refusing it beats opening a different file.
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("store: open %s: database path must not contain '?'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	migs, err := sqlstore.LoadMigrations(migrationFS)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	unlock, err := lockOpen(path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := readIdentity(path)
	if err != nil {
		return nil, err
	}
	fi, statErr := os.Stat(path)
	existed := statErr == nil
	if rec != nil && rec.Releases && (!existed || fi.Size() == 0) {
		// Opening would write a new, empty database in its place.
		return nil, checkIdentity(context.Background(), nil, path, rec, existed)
	}

	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	fail := func(err error) (*Store, error) {
		w.Close()
		if damaged(err) {
			return nil, damagedError(path, err)
		}
		var lost *LostError
		if errors.As(err, &lost) {
			return nil, err
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	ctx := context.Background()
	// Before anything writes to it: is this the store the history is in?
	if err := checkIdentity(ctx, w, path, rec, existed); err != nil {
		return fail(err)
	}
	if existed {
		pending, current, err := pendingIfAny(ctx, w, migs)
		if err != nil {
			return fail(err)
		}
		if pending {
			if err := backupBeforeMigrate(ctx, w, path, current); err != nil {
				return fail(err)
			}
		}
	}
	// Migrating on the writer first also switches a new file to WAL before
	// any reader connects.
	if err := migrate(ctx, w, migs); err != nil {
		return fail(err)
	}

	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	s := &Store{path: path, r: r}
	s.w = writer{DB: w, check: s.checkFile}
	if err := s.ensureIdentity(ctx, rec); err != nil {
		s.Close()
		return fail(err)
	}
	if s.opened, err = os.Stat(path); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return s, nil
}

// ID is the store's identity, as recorded in the database and beside it.
func (s *Store) ID() string { return s.id }

// dsn builds the driver's connection string. The pragmas are per
// connection, so they go in the DSN rather than being run once after Open:
// database/sql opens new connections whenever it likes.
func dsn(path string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	// WAL: readers (the dashboard) are not blocked by a writer (a deploy),
	// and a commit is one append to the log.
	q.Add("_pragma", "journal_mode(WAL)")
	// No constraint in the current schema needs it, but a later migration's
	// REFERENCES must be enforced from the start, not silently ignored.
	q.Add("_pragma", "foreign_keys(ON)")
	// With WAL, NORMAL never corrupts the database; a power cut can only
	// lose the last commits, and ladder already recovers from dying
	// mid-deploy (PhaseInterrupted). FULL would fsync every event.
	q.Add("_pragma", "synchronous(NORMAL)")
	if writer {
		// BEGIN IMMEDIATE takes the write lock up front (waiting under
		// busy_timeout). A deferred transaction that reads and then writes
		// fails with SQLITE_BUSY at once if another process committed in
		// between, and busy_timeout cannot help it.
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return path + "?" + q.Encode()
}

// Close releases both connection pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// nullMS stores a zero time as NULL (for optional times such as a release's
// finish).
func nullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return sqlstore.Millis(t)
}

func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return sqlstore.Time(v.Int64)
}

// query collects the WHERE clause and LIMIT of a filtered list. It numbers
// placeholders $1, $2, ... as PostgreSQL wants; the SQLite driver binds $N
// to the Nth argument, so the same text runs on both.
type query struct {
	conds []string
	args  []any
}

// arg records v and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

// where adds "expr <placeholder>" as a condition.
func (q *query) where(expr string, v any) {
	q.conds = append(q.conds, expr+" "+q.arg(v))
}

// eq adds col = v unless v is empty, which in every filter means "any".
func (q *query) eq(col, v string) {
	if v != "" {
		q.where(col+" =", v)
	}
}

func (q *query) whereSQL() string {
	if len(q.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.conds, " AND ")
}

// limitSQL returns a LIMIT clause, or nothing for n <= 0 (meaning all).
func (q *query) limitSQL(n int) string {
	if n <= 0 {
		return ""
	}
	return " LIMIT " + q.arg(n)
}
