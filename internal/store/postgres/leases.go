package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

var _ store.Leases = (*Store)(nil)

// maxLeaseRounds bounds AcquireLease's retries. A round ends in a decision
// unless the row changed between its two statements (released or expired
// meanwhile), so a handful is plenty.
const maxLeaseRounds = 16

// AcquireLease implements store.Leases across processes and machines.
//
// Granting a free lease, extending one's own and taking over an expired
// one are one statement: INSERT ... ON CONFLICT DO UPDATE ... WHERE. On a
// conflict PostgreSQL locks the existing row and evaluates the WHERE clause
// (same holder and live, or expired) against its latest committed version,
// so of several contenders exactly one gets a row back. The epoch is kept
// for a holder extending its live lease and incremented otherwise.
func (s *Store) AcquireLease(ctx context.Context, name string, h store.Holder, now time.Time, ttl time.Duration) (store.Lease, error) {
	fail := func(err error) (store.Lease, error) {
		return store.Lease{}, s.wrap(err, "acquire lease %q for %s", name, h)
	}
	if err := sqlstore.CheckLease(name, h, ttl); err != nil {
		return fail(err)
	}
	exp := sqlstore.Norm(now.Add(ttl))
	for range maxLeaseRounds {
		var epoch int64
		err := s.pool.QueryRow(ctx, `INSERT INTO leases AS l (name, holder_host, holder_pid, holder_instance, epoch, expires_ms)
			VALUES ($1, $2, $3, $4, 1, $5)
			ON CONFLICT (name) DO UPDATE SET holder_host = excluded.holder_host, holder_pid = excluded.holder_pid,
				holder_instance = excluded.holder_instance, expires_ms = excluded.expires_ms,
				epoch = CASE WHEN l.holder_host = $2 AND l.holder_pid = $3 AND l.holder_instance = $4 AND l.expires_ms > $6
					THEN l.epoch ELSE l.epoch + 1 END
			WHERE (l.holder_host = $2 AND l.holder_pid = $3 AND l.holder_instance = $4) OR l.expires_ms <= $6
			RETURNING epoch`, name, h.Host, h.PID, h.Instance, sqlstore.Millis(exp), sqlstore.Millis(now)).Scan(&epoch)
		if err == nil {
			return store.Lease{Name: name, Holder: h, Epoch: epoch, Expires: exp}, nil
		}
		if !noRows(err) {
			return fail(err)
		}
		cur, err := s.GetLease(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.Lease{}, err
		}
		if !cur.Live(now) || cur.Holder == h {
			continue // expired or released meanwhile: the upsert takes it
		}
		return cur, s.wrap(fmt.Errorf("held by %s until %s: %w", cur.Holder, cur.Expires.Format(time.RFC3339Nano), store.ErrLocked),
			"acquire lease %q for %s", name, h)
	}
	return fail(errors.New("the lease kept changing hands; try again"))
}

// RenewLease implements store.Leases: one compare-and-set statement on
// holder, epoch and expiry.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, now time.Time, ttl time.Duration) (store.Lease, error) {
	if err := sqlstore.CheckLease(l.Name, l.Holder, ttl); err != nil {
		return store.Lease{}, s.wrap(err, "renew lease %q", l.Name)
	}
	exp := sqlstore.Norm(now.Add(ttl))
	tag, err := s.pool.Exec(ctx, `UPDATE leases SET expires_ms = $1
		WHERE name = $2 AND holder_host = $3 AND holder_pid = $4 AND holder_instance = $5 AND epoch = $6 AND expires_ms > $7`,
		sqlstore.Millis(exp), l.Name, l.Holder.Host, l.Holder.PID, l.Holder.Instance, l.Epoch, sqlstore.Millis(now))
	if err != nil {
		return store.Lease{}, s.wrap(err, "renew lease %q", l.Name)
	}
	if tag.RowsAffected() != 1 {
		return store.Lease{}, fmt.Errorf("store: renew lease %q for %s (epoch %d): %w", l.Name, l.Holder, l.Epoch, store.ErrLeaseLost)
	}
	l.Expires = exp
	return l, nil
}

// ReleaseLease implements store.Leases.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	_, err := s.pool.Exec(ctx, `UPDATE leases SET holder_host = '', holder_pid = 0, holder_instance = '', expires_ms = 0
		WHERE name = $1 AND holder_host = $2 AND holder_pid = $3 AND holder_instance = $4 AND epoch = $5`,
		l.Name, l.Holder.Host, l.Holder.PID, l.Holder.Instance, l.Epoch)
	return s.wrap(err, "release lease %q", l.Name)
}

const leaseCols = `name, holder_host, holder_pid, holder_instance, epoch, expires_ms`

func scanLease(r pgx.Row) (store.Lease, error) {
	var (
		l   store.Lease
		ms  int64
		pid int64
	)
	if err := r.Scan(&l.Name, &l.Holder.Host, &pid, &l.Holder.Instance, &l.Epoch, &ms); err != nil {
		return store.Lease{}, err
	}
	l.Holder.PID = int(pid)
	l.Expires = sqlstore.Time(ms)
	if l.Holder.IsZero() {
		l.Expires = time.Time{}
	}
	return l, nil
}

// GetLease implements store.Leases.
func (s *Store) GetLease(ctx context.Context, name string) (store.Lease, error) {
	l, err := scanLease(s.pool.QueryRow(ctx, `SELECT `+leaseCols+` FROM leases WHERE name = $1`, name))
	if noRows(err) {
		return store.Lease{}, fmt.Errorf("store: get lease %q: %w", name, store.ErrNotFound)
	}
	return l, s.wrap(err, "get lease %q", name)
}

// ListLeases implements store.Leases.
func (s *Store) ListLeases(ctx context.Context, prefix string) ([]store.Lease, error) {
	// starts_with rather than LIKE: names may hold % and _.
	rows, err := s.pool.Query(ctx, `SELECT `+leaseCols+` FROM leases WHERE starts_with(name, $1) ORDER BY name COLLATE "C"`, prefix)
	if err != nil {
		return nil, s.wrap(err, "list leases")
	}
	defer rows.Close()
	var out []store.Lease
	for rows.Next() {
		l, err := scanLease(rows)
		if err != nil {
			return nil, s.wrap(err, "list leases")
		}
		out = append(out, l)
	}
	return out, s.wrap(rows.Err(), "list leases")
}
