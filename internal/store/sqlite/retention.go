package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

// pruneBatch bounds the rows one retention transaction touches, so that
// pruning a large backlog never holds SQLite's write lock long enough to
// make a deploy's writes wait.
const pruneBatch = 5000

// Prune implements store.Store.
//
// Raw samples are folded a bucket-aligned stretch at a time (at most
// foldStretch of samples per transaction): the folded sample of a bucket
// stands at the bucket's start, with the mean request rate, the error rate
// weighted by requests, the mean p50 and the highest p95 of the samples it
// replaces. Deletions go by age in batches of pruneBatch rows.
func (s *Store) Prune(ctx context.Context, r store.Retention, now time.Time) (store.Pruned, error) {
	var out store.Pruned
	if r.RawSamples > 0 {
		bucket := r.SampleBucket
		if bucket <= 0 {
			bucket = store.DefaultSampleBucket
		}
		b := bucket.Milliseconds()
		if b <= 0 {
			return out, fmt.Errorf("store: prune: sample bucket %s is shorter than a millisecond", bucket)
		}
		// Only whole buckets are folded, so no bucket is folded twice.
		cut := (sqlstore.Millis(now.Add(-r.RawSamples)) / b) * b
		if err := s.fold(ctx, cut, b, &out); err != nil {
			return out, err
		}
	}
	type del struct {
		table, where string
		keep         time.Duration
		n            *int64
	}
	for _, d := range []del{
		{"samples", "span_ms > 0 AND time_ms <", r.Samples, &out.Samples},
		{"events", "time_ms <", r.Events, &out.Events},
		{"audit", "time_ms <", r.Audit, &out.Audit},
	} {
		if d.keep <= 0 {
			continue
		}
		n, err := s.deleteOlder(ctx, d.table, d.where, sqlstore.Millis(now.Add(-d.keep)))
		*d.n += n
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// foldStretch is how much time of raw samples one folding transaction
// takes on (aligned to buckets).
const foldStretch = 10 * time.Minute

func (s *Store) fold(ctx context.Context, cut, bucket int64, out *store.Pruned) error {
	stretch := max(bucket, (foldStretch.Milliseconds()/bucket)*bucket)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var first sql.NullInt64
		if err := s.w.QueryRowContext(ctx, `SELECT MIN(time_ms) FROM samples WHERE span_ms = 0 AND time_ms < $1`, cut).Scan(&first); err != nil {
			return fmt.Errorf("store: prune samples: %w", err)
		}
		if !first.Valid {
			return nil
		}
		from := (first.Int64 / bucket) * bucket
		if first.Int64 < 0 && first.Int64%bucket != 0 {
			from -= bucket
		}
		to := min(cut, from+stretch)
		folded, buckets, err := s.foldRange(ctx, from, to, bucket)
		if err != nil {
			return fmt.Errorf("store: prune samples: %w", err)
		}
		out.Folded += folded
		out.Buckets += buckets
	}
}

// foldRange replaces the raw samples in [from, to) by one sample per
// bucket and series, in one transaction.
func (s *Store) foldRange(ctx context.Context, from, to, bucket int64) (folded, buckets int64, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO samples
		(time_ms, env, site, snapshot, service, request_rate, error_rate, p50, p95, span_ms)
		SELECT (time_ms / $3) * $3, env, site, snapshot, service,
			AVG(request_rate),
			CASE WHEN SUM(request_rate) > 0 THEN SUM(error_rate * request_rate) / SUM(request_rate) ELSE AVG(error_rate) END,
			AVG(p50), MAX(p95), $3
		FROM samples
		WHERE span_ms = 0 AND time_ms >= $1 AND time_ms < $2
		GROUP BY time_ms / $3, env, site, snapshot, service`, from, to, bucket)
	if err != nil {
		return 0, 0, err
	}
	if buckets, err = res.RowsAffected(); err != nil {
		return 0, 0, err
	}
	res, err = tx.ExecContext(ctx, `DELETE FROM samples WHERE span_ms = 0 AND time_ms >= $1 AND time_ms < $2`, from, to)
	if err != nil {
		return 0, 0, err
	}
	if folded, err = res.RowsAffected(); err != nil {
		return 0, 0, err
	}
	return folded, buckets, tx.Commit()
}

// deleteOlder deletes the rows of table matching "where before" in
// batches, and returns how many went.
func (s *Store) deleteOlder(ctx context.Context, table, where string, before int64) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		res, err := s.w.ExecContext(ctx, `DELETE FROM `+table+` WHERE id IN (SELECT id FROM `+table+` WHERE `+where+` $1 LIMIT $2)`, before, pruneBatch)
		if err != nil {
			return total, fmt.Errorf("store: prune %s: %w", table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: prune %s: %w", table, err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
