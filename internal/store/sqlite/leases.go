package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

var _ store.Leases = (*Store)(nil)

// AcquireLease implements store.Leases.
//
// Reading the lease, deciding and writing are one transaction on the
// writer connection, begun with BEGIN IMMEDIATE: SQLite's write lock is
// held before the read, so no other goroutine or process can change the
// row between the decision and the write.
func (s *Store) AcquireLease(ctx context.Context, name string, h store.Holder, now time.Time, ttl time.Duration) (l store.Lease, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("store: acquire lease %q for %s: %w", name, h, err)
		}
	}()
	if err := sqlstore.CheckLease(name, h, ttl); err != nil {
		return store.Lease{}, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Lease{}, err
	}
	defer tx.Rollback()
	cur, found, err := getLease(ctx, tx, name)
	if err != nil {
		return store.Lease{}, err
	}
	epoch := int64(1)
	if found {
		switch {
		case cur.Holder == h && cur.Live(now):
			epoch = cur.Epoch // extending one's own
		case cur.Live(now):
			return cur, fmt.Errorf("held by %s until %s: %w", cur.Holder, cur.Expires.Format(time.RFC3339Nano), store.ErrLocked)
		default:
			epoch = cur.Epoch + 1
		}
	}
	l = store.Lease{Name: name, Holder: h, Epoch: epoch, Expires: sqlstore.Norm(now.Add(ttl))}
	if _, err := tx.ExecContext(ctx, `INSERT INTO leases (name, holder_host, holder_pid, holder_instance, epoch, expires_ms)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (name) DO UPDATE SET holder_host = excluded.holder_host, holder_pid = excluded.holder_pid,
			holder_instance = excluded.holder_instance, epoch = excluded.epoch, expires_ms = excluded.expires_ms`,
		name, h.Host, h.PID, h.Instance, epoch, sqlstore.Millis(l.Expires)); err != nil {
		return store.Lease{}, err
	}
	if err := tx.Commit(); err != nil {
		return store.Lease{}, err
	}
	return l, nil
}

// RenewLease implements store.Leases: one compare-and-set statement on
// holder, epoch and expiry.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, now time.Time, ttl time.Duration) (store.Lease, error) {
	if err := sqlstore.CheckLease(l.Name, l.Holder, ttl); err != nil {
		return store.Lease{}, fmt.Errorf("store: renew lease %q: %w", l.Name, err)
	}
	exp := sqlstore.Norm(now.Add(ttl))
	res, err := s.w.ExecContext(ctx, `UPDATE leases SET expires_ms = $1
		WHERE name = $2 AND holder_host = $3 AND holder_pid = $4 AND holder_instance = $5 AND epoch = $6 AND expires_ms > $7`,
		sqlstore.Millis(exp), l.Name, l.Holder.Host, l.Holder.PID, l.Holder.Instance, l.Epoch, sqlstore.Millis(now))
	if err != nil {
		return store.Lease{}, fmt.Errorf("store: renew lease %q: %w", l.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return store.Lease{}, fmt.Errorf("store: renew lease %q for %s (epoch %d): %w", l.Name, l.Holder, l.Epoch, store.ErrLeaseLost)
	}
	l.Expires = exp
	return l, nil
}

// ReleaseLease implements store.Leases.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE leases SET holder_host = '', holder_pid = 0, holder_instance = '', expires_ms = 0
		WHERE name = $1 AND holder_host = $2 AND holder_pid = $3 AND holder_instance = $4 AND epoch = $5`,
		l.Name, l.Holder.Host, l.Holder.PID, l.Holder.Instance, l.Epoch); err != nil {
		return fmt.Errorf("store: release lease %q: %w", l.Name, err)
	}
	return nil
}

// GetLease implements store.Leases.
func (s *Store) GetLease(ctx context.Context, name string) (store.Lease, error) {
	l, found, err := getLease(ctx, s.r, name)
	if err != nil {
		return store.Lease{}, fmt.Errorf("store: get lease %q: %w", name, err)
	}
	if !found {
		return store.Lease{}, fmt.Errorf("store: get lease %q: %w", name, store.ErrNotFound)
	}
	return l, nil
}

// ListLeases implements store.Leases.
func (s *Store) ListLeases(ctx context.Context, prefix string) ([]store.Lease, error) {
	// A range rather than LIKE: names may hold % and _.
	rows, err := s.r.QueryContext(ctx, `SELECT `+leaseCols+` FROM leases WHERE name >= $1 AND ($2 = '' OR name < $2) ORDER BY name`,
		prefix, prefixEnd(prefix))
	if err != nil {
		return nil, fmt.Errorf("store: list leases: %w", err)
	}
	defer rows.Close()
	var out []store.Lease
	for rows.Next() {
		l, err := scanLease(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list leases: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// prefixEnd is the least string above every string starting with prefix
// ("" when there is none, or the prefix is empty).
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

const leaseCols = `name, holder_host, holder_pid, holder_instance, epoch, expires_ms`

type rowScanner interface{ Scan(dest ...any) error }

func scanLease(r rowScanner) (store.Lease, error) {
	var (
		l  store.Lease
		ms int64
	)
	if err := r.Scan(&l.Name, &l.Holder.Host, &l.Holder.PID, &l.Holder.Instance, &l.Epoch, &ms); err != nil {
		return store.Lease{}, err
	}
	l.Expires = sqlstore.Time(ms)
	if l.Holder.IsZero() {
		l.Expires = time.Time{}
	}
	return l, nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getLease(ctx context.Context, q queryRower, name string) (store.Lease, bool, error) {
	l, err := scanLease(q.QueryRowContext(ctx, `SELECT `+leaseCols+` FROM leases WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Lease{}, false, nil
	}
	return l, err == nil, err
}
