package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

// pruneBatch bounds the rows one retention statement deletes, so pruning
// a large backlog never holds row locks or bloats one transaction for long.
const pruneBatch = 5000

// foldStretch is how much time of raw samples one folding transaction
// takes on (aligned to buckets).
const foldStretch = 10 * time.Minute

// Prune implements store.Store with the SQLite store's rules: raw samples
// older than r.RawSamples are folded a bucket-aligned stretch at a time
// (the folded sample of a bucket stands at the bucket's start, with the
// mean request rate, the request-weighted error rate, the mean p50 and the
// highest p95), and deletions go by age in batches.
//
// Two replicas may prune at once: folding a stretch locks its raw rows
// first (SELECT ... FOR UPDATE), so a stretch is folded by one of them and
// the other finds nothing left to fold.
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

func (s *Store) fold(ctx context.Context, cut, bucket int64, out *store.Pruned) error {
	stretch := max(bucket, (foldStretch.Milliseconds()/bucket)*bucket)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var first *int64
		if err := s.pool.QueryRow(ctx, `SELECT MIN(time_ms) FROM samples WHERE span_ms = 0 AND time_ms < $1`, cut).Scan(&first); err != nil {
			return s.wrap(err, "prune samples")
		}
		if first == nil {
			return nil
		}
		from := (*first / bucket) * bucket
		if *first < 0 && *first%bucket != 0 {
			from -= bucket
		}
		to := min(cut, from+stretch)
		folded, buckets, err := s.foldRange(ctx, from, to, bucket)
		if err != nil {
			return s.wrap(err, "prune samples")
		}
		out.Folded += folded
		out.Buckets += buckets
	}
}

// foldRange replaces the raw samples in [from, to) by one sample per
// bucket and series, in one transaction.
func (s *Store) foldRange(ctx context.Context, from, to, bucket int64) (folded, buckets int64, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Lock the stretch's raw rows before reading them: a concurrent
	// pruner waits here, then sees them deleted.
	if _, err := tx.Exec(ctx, `SELECT id FROM samples WHERE span_ms = 0 AND time_ms >= $1 AND time_ms < $2 FOR UPDATE`, from, to); err != nil {
		return 0, 0, err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO samples
		(time_ms, env, site, snapshot, service, request_rate, error_rate, p50, p95, span_ms)
		SELECT (time_ms / $3::bigint) * $3::bigint, env, site, snapshot, service,
			AVG(request_rate),
			CASE WHEN SUM(request_rate) > 0 THEN SUM(error_rate * request_rate) / SUM(request_rate) ELSE AVG(error_rate) END,
			AVG(p50), MAX(p95), $3::bigint
		FROM samples
		WHERE span_ms = 0 AND time_ms >= $1 AND time_ms < $2
		GROUP BY time_ms / $3::bigint, env, site, snapshot, service`, from, to, bucket)
	if err != nil {
		return 0, 0, err
	}
	buckets = tag.RowsAffected()
	tag, err = tx.Exec(ctx, `DELETE FROM samples WHERE span_ms = 0 AND time_ms >= $1 AND time_ms < $2`, from, to)
	if err != nil {
		return 0, 0, err
	}
	folded = tag.RowsAffected()
	return folded, buckets, tx.Commit(ctx)
}

// deleteOlder deletes the rows of table matching "where before" in
// batches, and returns how many went.
func (s *Store) deleteOlder(ctx context.Context, table, where string, before int64) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		tag, err := s.pool.Exec(ctx, `DELETE FROM `+table+` WHERE id IN (SELECT id FROM `+table+` WHERE `+where+` $1 LIMIT $2)`, before, int64(pruneBatch))
		if err != nil {
			return total, s.wrap(err, "prune %s", table)
		}
		n := tag.RowsAffected()
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
