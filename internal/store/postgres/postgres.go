package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

var _ store.Store = (*Store)(nil)

// Store is the PostgreSQL implementation of store.Store. Every method runs
// on a pgxpool connection pool; several Stores (in one process or on
// several machines) may share a database.
type Store struct {
	pool *pgxpool.Pool
	// dsn is the redacted DSN, for error messages.
	dsn string
	// secret is the DSN's password, scrubbed from every error.
	secret string
}

// IsDSN reports whether s names a PostgreSQL database (a postgres:// or
// postgresql:// URL) rather than a file.
func IsDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Open connects to the database dsn names (a postgres:// URL or a libpq
// key=value string) and brings its schema up to date. The pool's size and
// timeouts can be set in the DSN (pool_max_conns, connect_timeout, ...), as
// pgxpool documents.
func Open(ctx context.Context, dsn string) (*Store, error) {
	red, secret, known := redact(dsn)
	fail := func(err error) error {
		return scrub(fmt.Errorf("store: open %s: %w", red, err), secret)
	}
	if !known {
		// pgx's own parse errors redact on a best-effort basis only.
		return nil, fmt.Errorf("store: open %s: cannot parse the DSN", red)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fail(err)
	}
	migs, err := sqlstore.LoadMigrations(migrationFS)
	if err != nil {
		return nil, fail(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fail(err)
	}
	if err := migrate(ctx, pool, migs); err != nil {
		pool.Close()
		return nil, fail(err)
	}
	return &Store{pool: pool, dsn: red, secret: secret}, nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// String names the store without its password.
func (s *Store) String() string { return "postgres store " + s.dsn }

// wrap prefixes err with what failed, scrubbed of the DSN's password (a
// server's error can quote the connection parameters), keeping it
// inspectable with errors.Is.
func (s *Store) wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return scrub(fmt.Errorf("store: "+format+": %w", append(args, err)...), s.secret)
}

// nullMS stores a zero time as NULL.
func nullMS(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := sqlstore.Millis(t)
	return &ms
}

func fromNullMS(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return sqlstore.Time(*v)
}

// noRows reports whether err says a single-row query found nothing.
func noRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// query collects the WHERE clause and LIMIT of a filtered list, numbering
// placeholders $1, $2, ... (the SQLite store builds the same text).
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
	return " LIMIT " + q.arg(int64(n))
}
