package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// maxLockRounds bounds AcquireLock's retries. Each round ends in a decision
// unless the row changed between two of its statements (released, expired
// or taken over meanwhile), so a handful is plenty.
const maxLockRounds = 16

// AcquireLock implements store.Store across processes and machines.
//
// Taking a free lock, extending one's own and taking over an expired one
// are one statement: INSERT ... ON CONFLICT DO UPDATE ... WHERE. On a
// conflict PostgreSQL locks the existing row and evaluates the WHERE
// clause (same owner, or expired) against its latest committed version,
// so of several contenders - other goroutines, other processes, other
// machines - exactly one gets a row back. Nothing here looks at PIDs: the
// lock is an owner identity and an expiry, and expiry is judged by the
// caller's clock, as the expiry itself was.
//
// A holder that stale declares dead is taken over with a compare-and-swap
// on the (owner, expiry) the caller judged: if the holder changed since,
// the round starts over. stale runs outside any transaction, so it may
// take its time and may read this store.
func (s *Store) AcquireLock(ctx context.Context, name, owner string, expires time.Time, stale func(owner string) bool) (store.Lock, error) {
	fail := func(err error) (store.Lock, error) {
		return store.Lock{}, s.wrap(err, "acquire lock %q for %s", name, owner)
	}
	if name == "" || owner == "" {
		return fail(errors.New("lock name and owner must not be empty"))
	}
	if expires.IsZero() {
		return fail(errors.New("zero expiry"))
	}
	mine := store.Lock{Name: name, Owner: owner, Expires: norm(expires)}
	for range maxLockRounds {
		var got string
		err := s.pool.QueryRow(ctx, `INSERT INTO locks (name, owner, expires_ms) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms
			WHERE locks.owner = excluded.owner OR locks.expires_ms <= $4
			RETURNING owner`, name, owner, toMS(expires), toMS(time.Now())).Scan(&got)
		if err == nil {
			return mine, nil
		}
		if !noRows(err) {
			return fail(err)
		}

		// Held by another owner, live by its expiry: read who.
		holder := store.Lock{Name: name}
		var holderMS int64
		err = s.pool.QueryRow(ctx, `SELECT owner, expires_ms FROM locks WHERE name = $1`, name).
			Scan(&holder.Owner, &holderMS)
		if noRows(err) {
			continue // released meanwhile
		}
		if err != nil {
			return fail(err)
		}
		holder.Expires = fromMS(holderMS)
		if holder.Owner == owner || holderMS <= toMS(time.Now()) {
			continue // ours or expired now: the upsert takes it
		}
		if stale == nil || !stale(holder.Owner) {
			return holder, s.wrap(fmt.Errorf("held by %s until %s: %w",
				holder.Owner, holder.Expires.Format(time.RFC3339Nano), store.ErrLocked),
				"acquire lock %q for %s", name, owner)
		}
		tag, err := s.pool.Exec(ctx, `UPDATE locks SET owner = $2, expires_ms = $3
			WHERE name = $1 AND owner = $4 AND expires_ms = $5`,
			name, owner, toMS(expires), holder.Owner, holderMS)
		if err != nil {
			return fail(err)
		}
		if tag.RowsAffected() == 1 {
			return mine, nil
		}
		// Someone else moved first (released, extended or took it over).
	}
	return fail(errors.New("the lock kept changing hands; try again"))
}

// ReleaseLock implements store.Store. The owner test in the WHERE clause
// makes it one atomic statement: a lock taken over by someone else since
// is left alone.
func (s *Store) ReleaseLock(ctx context.Context, name, owner string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM locks WHERE name = $1 AND owner = $2`, name, owner)
	return s.wrap(err, "release lock %q for %s", name, owner)
}
