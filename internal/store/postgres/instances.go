package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

const instanceCols = `env, site, service, slot, snapshot, digest, config, pid, port, owner, started_ms`

// PutInstance implements store.Store.
func (s *Store) PutInstance(ctx context.Context, in store.Instance) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO instances (`+instanceCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (env, site, service, slot) DO UPDATE SET
			snapshot = excluded.snapshot, digest = excluded.digest, config = excluded.config,
			pid = excluded.pid, port = excluded.port, owner = excluded.owner,
			started_ms = excluded.started_ms`,
		in.Env, in.Site, in.Service, in.Slot, in.Snapshot, in.Digest, in.Config,
		int64(in.PID), int64(in.Port), in.Owner, sqlstore.Millis(in.Started))
	return s.wrap(err, "put instance %s/%s %s[%s]", in.Env, in.Site, in.Service, in.Slot)
}

// DeleteInstance implements store.Store.
func (s *Store) DeleteInstance(ctx context.Context, env, site, service, slot string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM instances
		WHERE env = $1 AND site = $2 AND service = $3 AND slot = $4`, env, site, service, slot)
	return s.wrap(err, "delete instance %s/%s %s[%s]", env, site, service, slot)
}

// ListInstances implements store.Store, ordered by service and slot, then
// env and site (bytewise: the columns are COLLATE "C").
func (s *Store) ListInstances(ctx context.Context, env, site string) ([]store.Instance, error) {
	var q query
	q.eq("env", env)
	q.eq("site", site)
	rows, err := s.pool.Query(ctx, `SELECT `+instanceCols+` FROM instances`+
		q.whereSQL()+` ORDER BY service, slot, env, site`, q.args...)
	if err != nil {
		return nil, s.wrap(err, "list instances %s/%s", env, site)
	}
	defer rows.Close()
	var out []store.Instance
	for rows.Next() {
		var (
			in        store.Instance
			pid, port int64
			started   int64
		)
		if err := rows.Scan(&in.Env, &in.Site, &in.Service, &in.Slot, &in.Snapshot, &in.Digest,
			&in.Config, &pid, &port, &in.Owner, &started); err != nil {
			return nil, s.wrap(err, "list instances %s/%s", env, site)
		}
		in.PID, in.Port = int(pid), int(port)
		in.Started = sqlstore.Time(started)
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "list instances %s/%s", env, site)
	}
	return out, nil
}

// AppendSamples implements store.Store. The batch is one round trip and
// one transaction (pgx sends a batch inside an implicit transaction when
// it is not in one already), so a scrape is recorded whole or not at all.
func (s *Store) AppendSamples(ctx context.Context, samples []store.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, x := range samples {
		b.Queue(`INSERT INTO samples
			(time_ms, env, site, snapshot, service, request_rate, error_rate, p50, p95, span_ms)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			sqlstore.Millis(x.Time), x.Env, x.Site, x.Snapshot, x.Service, x.RequestRate, x.ErrorRate, x.P50, x.P95,
			x.Span.Milliseconds())
	}
	return s.wrap(s.pool.SendBatch(ctx, &b).Close(), "append %d samples", len(samples))
}

// ListSamples implements store.Store. Since is inclusive; Limit keeps the
// oldest matching samples.
func (s *Store) ListSamples(ctx context.Context, f store.SampleFilter) ([]store.Sample, error) {
	var q query
	q.eq("env", f.Env)
	q.eq("site", f.Site)
	q.eq("snapshot", f.Snapshot)
	q.eq("service", f.Service)
	if !f.Since.IsZero() {
		q.where("time_ms >=", sqlstore.Millis(f.Since))
	}
	rows, err := s.pool.Query(ctx, `SELECT time_ms, env, site, snapshot, service,
		request_rate, error_rate, p50, p95, span_ms FROM samples`+
		q.whereSQL()+` ORDER BY time_ms, id`+q.limitSQL(f.Limit), q.args...)
	if err != nil {
		return nil, s.wrap(err, "list samples")
	}
	defer rows.Close()
	var out []store.Sample
	for rows.Next() {
		var (
			x        store.Sample
			ms, span int64
		)
		if err := rows.Scan(&ms, &x.Env, &x.Site, &x.Snapshot, &x.Service,
			&x.RequestRate, &x.ErrorRate, &x.P50, &x.P95, &span); err != nil {
			return nil, s.wrap(err, "list samples")
		}
		x.Time = sqlstore.Time(ms)
		x.Span = time.Duration(span) * time.Millisecond
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "list samples")
	}
	return out, nil
}
