package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

const instanceCols = `env, site, service, slot, snapshot, digest, config, pid, port, owner, started_ms`

// PutInstance implements store.Store.
func (s *Store) PutInstance(ctx context.Context, in store.Instance) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO instances (`+instanceCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (env, site, service, slot) DO UPDATE SET
			snapshot = excluded.snapshot, digest = excluded.digest, config = excluded.config,
			pid = excluded.pid, port = excluded.port, owner = excluded.owner,
			started_ms = excluded.started_ms`,
		in.Env, in.Site, in.Service, in.Slot, in.Snapshot, in.Digest, in.Config,
		in.PID, in.Port, in.Owner, sqlstore.Millis(in.Started))
	if err != nil {
		return fmt.Errorf("store: put instance %s/%s %s[%s]: %w", in.Env, in.Site, in.Service, in.Slot, err)
	}
	return nil
}

// DeleteInstance implements store.Store.
func (s *Store) DeleteInstance(ctx context.Context, env, site, service, slot string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM instances
		WHERE env = $1 AND site = $2 AND service = $3 AND slot = $4`, env, site, service, slot)
	if err != nil {
		return fmt.Errorf("store: delete instance %s/%s %s[%s]: %w", env, site, service, slot, err)
	}
	return nil
}

// ListInstances implements store.Store. When env or site is open, env and
// site break ties after service and slot so the order is stable.
func (s *Store) ListInstances(ctx context.Context, env, site string) ([]store.Instance, error) {
	var q query
	q.eq("env", env)
	q.eq("site", site)
	rows, err := s.r.QueryContext(ctx, `SELECT `+instanceCols+` FROM instances`+
		q.whereSQL()+` ORDER BY service, slot, env, site`, q.args...)
	if err != nil {
		return nil, fmt.Errorf("store: list instances %s/%s: %w", env, site, err)
	}
	defer rows.Close()
	var out []store.Instance
	for rows.Next() {
		var (
			in      store.Instance
			started int64
		)
		if err := rows.Scan(&in.Env, &in.Site, &in.Service, &in.Slot, &in.Snapshot, &in.Digest,
			&in.Config, &in.PID, &in.Port, &in.Owner, &started); err != nil {
			return nil, fmt.Errorf("store: list instances %s/%s: %w", env, site, err)
		}
		in.Started = sqlstore.Time(started)
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list instances %s/%s: %w", env, site, err)
	}
	return out, nil
}

// AppendSamples implements store.Store. The batch is one transaction: one
// commit instead of one per sample, and a scrape is recorded whole or not
// at all.
func (s *Store) AppendSamples(ctx context.Context, samples []store.Sample) (err error) {
	if len(samples) == 0 {
		return nil
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("store: append %d samples: %w", len(samples), err)
		}
	}()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO samples
		(time_ms, env, site, snapshot, service, request_rate, error_rate, p50, p95, span_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, x := range samples {
		if _, err := stmt.ExecContext(ctx, sqlstore.Millis(x.Time), x.Env, x.Site, x.Snapshot, x.Service,
			x.RequestRate, x.ErrorRate, x.P50, x.P95, x.Span.Milliseconds()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// ListSamples implements store.Store. Since is inclusive. Limit keeps the
// oldest matching samples, like any "oldest first" list cut short; a caller
// pages forward by passing the last sample's time as Since.
func (s *Store) ListSamples(ctx context.Context, f store.SampleFilter) ([]store.Sample, error) {
	var q query
	q.eq("env", f.Env)
	q.eq("site", f.Site)
	q.eq("snapshot", f.Snapshot)
	q.eq("service", f.Service)
	if !f.Since.IsZero() {
		q.where("time_ms >=", sqlstore.Millis(f.Since))
	}
	rows, err := s.r.QueryContext(ctx, `SELECT time_ms, env, site, snapshot, service,
		request_rate, error_rate, p50, p95, span_ms FROM samples`+
		q.whereSQL()+` ORDER BY time_ms, id`+q.limitSQL(f.Limit), q.args...)
	if err != nil {
		return nil, fmt.Errorf("store: list samples: %w", err)
	}
	out, err := scanSamples(rows)
	if err != nil {
		return nil, fmt.Errorf("store: list samples: %w", err)
	}
	return out, nil
}

func scanSamples(rows *sql.Rows) ([]store.Sample, error) {
	defer rows.Close()
	var out []store.Sample
	for rows.Next() {
		var (
			x    store.Sample
			ms   int64
			span int64
		)
		if err := rows.Scan(&ms, &x.Env, &x.Site, &x.Snapshot, &x.Service,
			&x.RequestRate, &x.ErrorRate, &x.P50, &x.P95, &span); err != nil {
			return nil, err
		}
		x.Time = sqlstore.Time(ms)
		x.Span = time.Duration(span) * time.Millisecond
		out = append(out, x)
	}
	return out, rows.Err()
}
