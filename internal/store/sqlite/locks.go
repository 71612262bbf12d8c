package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// AcquireLock implements store.Store.
//
// Reading the holder, deciding and writing are one transaction on the
// writer connection. The writer begins transactions with BEGIN IMMEDIATE,
// which takes SQLite's write lock before the read, so no other goroutine
// (they queue for the single writer connection) and no other process (it
// waits for the file lock) can change the row between the decision and the
// write: of any number of contenders exactly one wins.
//
// A lock is expired once the current time reaches its expiry (compared at
// millisecond precision). stale is consulted only for a lock held, and not
// expired, by another owner, and it runs inside the write transaction: it
// must be quick (a PID or heartbeat check) and must not write to this
// store, or it would wait for itself. An empty name or owner, or a zero
// expires, is refused.
func (s *Store) AcquireLock(ctx context.Context, name, owner string, expires time.Time, stale func(owner string) bool) (held store.Lock, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("store: acquire lock %q for %s: %w", name, owner, err)
		}
	}()
	if name == "" || owner == "" {
		return store.Lock{}, errors.New("lock name and owner must not be empty")
	}
	if expires.IsZero() {
		return store.Lock{}, errors.New("zero expiry")
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Lock{}, err
	}
	defer tx.Rollback()

	holder := store.Lock{Name: name}
	var holderMS int64
	err = tx.QueryRowContext(ctx, `SELECT owner, expires_ms FROM locks WHERE name = $1`, name).
		Scan(&holder.Owner, &holderMS)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Free.
	case err != nil:
		return store.Lock{}, err
	default:
		holder.Expires = fromMS(holderMS)
		// The clock is read after the write lock is held, so a waiter
		// judges expiry by when it gets to decide, not when it asked.
		taken := holder.Owner == owner || holderMS <= toMS(time.Now()) ||
			(stale != nil && stale(holder.Owner))
		if !taken {
			return holder, fmt.Errorf("held by %s until %s: %w",
				holder.Owner, holder.Expires.Format(time.RFC3339Nano), store.ErrLocked)
		}
	}

	// One upsert covers taking a free lock, extending one's own and taking
	// over an expired or stale one.
	if _, err := tx.ExecContext(ctx, `INSERT INTO locks (name, owner, expires_ms) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms`,
		name, owner, toMS(expires)); err != nil {
		return store.Lock{}, err
	}
	if err := tx.Commit(); err != nil {
		return store.Lock{}, err
	}
	return store.Lock{Name: name, Owner: owner, Expires: norm(expires)}, nil
}

// ReleaseLock implements store.Store. The owner test in the WHERE clause
// makes it one atomic statement: a lock taken over by someone else since
// is left alone.
func (s *Store) ReleaseLock(ctx context.Context, name, owner string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM locks WHERE name = $1 AND owner = $2`, name, owner); err != nil {
		return fmt.Errorf("store: release lock %q for %s: %w", name, owner, err)
	}
	return nil
}
