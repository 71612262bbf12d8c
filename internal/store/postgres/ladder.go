package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

// AddApproval implements store.Store. A zero At is set to now. The unique
// constraint on (snapshot, env, by_actor) decides, in one statement, which
// of two identical approvals is recorded; the other is ErrConflict.
func (s *Store) AddApproval(ctx context.Context, a store.Approval) error {
	if a.At.IsZero() {
		a.At = time.Now()
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO approvals (snapshot, env, by_actor, comment, at_ms)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (snapshot, env, by_actor) DO NOTHING`,
		a.Snapshot, a.Env, a.By, a.Comment, sqlstore.Millis(a.At))
	if err != nil {
		return s.wrap(err, "add approval of %s for %s by %s", a.Snapshot, a.Env, a.By)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: add approval of %s for %s by %s: already approved: %w",
			a.Snapshot, a.Env, a.By, store.ErrConflict)
	}
	return nil
}

// Approvals implements store.Store: oldest At first, ties in the order
// added.
func (s *Store) Approvals(ctx context.Context, snapshot, env string) ([]store.Approval, error) {
	rows, err := s.pool.Query(ctx, `SELECT by_actor, comment, at_ms FROM approvals
		WHERE snapshot = $1 AND env = $2 ORDER BY at_ms, id`, snapshot, env)
	if err != nil {
		return nil, s.wrap(err, "approvals of %s for %s", snapshot, env)
	}
	defer rows.Close()
	var out []store.Approval
	for rows.Next() {
		a := store.Approval{Snapshot: snapshot, Env: env}
		var ms int64
		if err := rows.Scan(&a.By, &a.Comment, &ms); err != nil {
			return nil, s.wrap(err, "approvals of %s for %s", snapshot, env)
		}
		a.At = sqlstore.Time(ms)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "approvals of %s for %s", snapshot, env)
	}
	return out, nil
}

// RecordJob implements store.Store. A zero At is set to now.
func (s *Store) RecordJob(ctx context.Context, j store.JobRun) error {
	if j.At.IsZero() {
		j.At = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO job_runs (env, site, job, snapshot, digest, outcome, at_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		j.Env, j.Site, j.Job, j.Snapshot, j.Digest, j.Outcome, sqlstore.Millis(j.At))
	return s.wrap(err, "record job %s on %s/%s", j.Job, j.Env, j.Site)
}

// ListJobs implements store.Store: newest At first, ties newest-recorded
// first. limit <= 0 means all.
func (s *Store) ListJobs(ctx context.Context, env string, limit int) ([]store.JobRun, error) {
	var q query
	q.eq("env", env)
	rows, err := s.pool.Query(ctx, `SELECT env, site, job, snapshot, digest, outcome, at_ms
		FROM job_runs`+q.whereSQL()+` ORDER BY at_ms DESC, id DESC`+q.limitSQL(limit), q.args...)
	if err != nil {
		return nil, s.wrap(err, "list jobs of %q", env)
	}
	defer rows.Close()
	var out []store.JobRun
	for rows.Next() {
		var (
			j  store.JobRun
			ms int64
		)
		if err := rows.Scan(&j.Env, &j.Site, &j.Job, &j.Snapshot, &j.Digest, &j.Outcome, &ms); err != nil {
			return nil, s.wrap(err, "list jobs of %q", env)
		}
		j.At = sqlstore.Time(ms)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "list jobs of %q", env)
	}
	return out, nil
}

const auditCols = `id, time_ms, actor, action, env, site, snapshot, outcome, detail`

// Audit implements store.Store. Time is kept if set, otherwise now.
func (s *Store) Audit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = sqlstore.Norm(e.Time)
	err := s.pool.QueryRow(ctx, `INSERT INTO audit
		(time_ms, actor, action, env, site, snapshot, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		sqlstore.Millis(e.Time), e.Actor, e.Action, e.Env, e.Site, e.Snapshot, e.Outcome, e.Detail,
	).Scan(&e.ID)
	if err != nil {
		return store.AuditEntry{}, s.wrap(err, "audit %s by %s", e.Action, e.Actor)
	}
	return e, nil
}

// ListAudit implements store.Store: most recently appended (highest ID)
// first, whatever Time the caller gave.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	var q query
	q.eq("env", f.Env)
	q.eq("snapshot", f.Snapshot)
	q.eq("action", f.Action)
	q.eq("actor", f.Actor)
	if f.BeforeID > 0 {
		q.where("id <", f.BeforeID)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+auditCols+` FROM audit`+
		q.whereSQL()+` ORDER BY id DESC`+q.limitSQL(f.Limit), q.args...)
	if err != nil {
		return nil, s.wrap(err, "list audit")
	}
	out, err := scanAudit(rows)
	if err != nil {
		return nil, s.wrap(err, "list audit")
	}
	return out, nil
}

func scanAudit(rows pgx.Rows) ([]store.AuditEntry, error) {
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var (
			e  store.AuditEntry
			ms int64
		)
		if err := rows.Scan(&e.ID, &ms, &e.Actor, &e.Action, &e.Env, &e.Site, &e.Snapshot,
			&e.Outcome, &e.Detail); err != nil {
			return nil, err
		}
		e.Time = sqlstore.Time(ms)
		out = append(out, e)
	}
	return out, rows.Err()
}
