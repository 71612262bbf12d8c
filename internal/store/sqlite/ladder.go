package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

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
	res, err := s.w.ExecContext(ctx, `INSERT INTO approvals (snapshot, env, by_actor, comment, at_ms)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (snapshot, env, by_actor) DO NOTHING`,
		a.Snapshot, a.Env, a.By, a.Comment, sqlstore.Millis(a.At))
	if err != nil {
		return fmt.Errorf("store: add approval of %s for %s by %s: %w", a.Snapshot, a.Env, a.By, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: add approval of %s for %s by %s: %w", a.Snapshot, a.Env, a.By, err)
	}
	if n == 0 {
		return fmt.Errorf("store: add approval of %s for %s by %s: already approved: %w",
			a.Snapshot, a.Env, a.By, store.ErrConflict)
	}
	return nil
}

// Approvals implements store.Store. Oldest means earliest At; approvals
// with the same At keep the order they were added in.
func (s *Store) Approvals(ctx context.Context, snapshot, env string) ([]store.Approval, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT by_actor, comment, at_ms FROM approvals
		WHERE snapshot = $1 AND env = $2 ORDER BY at_ms, id`, snapshot, env)
	if err != nil {
		return nil, fmt.Errorf("store: approvals of %s for %s: %w", snapshot, env, err)
	}
	defer rows.Close()
	var out []store.Approval
	for rows.Next() {
		a := store.Approval{Snapshot: snapshot, Env: env}
		var ms int64
		if err := rows.Scan(&a.By, &a.Comment, &ms); err != nil {
			return nil, fmt.Errorf("store: approvals of %s for %s: %w", snapshot, env, err)
		}
		a.At = sqlstore.Time(ms)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: approvals of %s for %s: %w", snapshot, env, err)
	}
	return out, nil
}

// RecordJob implements store.Store. A zero At is set to now.
func (s *Store) RecordJob(ctx context.Context, j store.JobRun) error {
	if j.At.IsZero() {
		j.At = time.Now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO job_runs (env, site, job, snapshot, digest, outcome, at_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		j.Env, j.Site, j.Job, j.Snapshot, j.Digest, j.Outcome, sqlstore.Millis(j.At))
	if err != nil {
		return fmt.Errorf("store: record job %s on %s/%s: %w", j.Job, j.Env, j.Site, err)
	}
	return nil
}

// ListJobs implements store.Store. Newest means latest At; runs with the
// same At are newest-recorded first. limit <= 0 means all.
func (s *Store) ListJobs(ctx context.Context, env string, limit int) ([]store.JobRun, error) {
	var q query
	q.eq("env", env)
	rows, err := s.r.QueryContext(ctx, `SELECT env, site, job, snapshot, digest, outcome, at_ms
		FROM job_runs`+q.whereSQL()+` ORDER BY at_ms DESC, id DESC`+q.limitSQL(limit), q.args...)
	if err != nil {
		return nil, fmt.Errorf("store: list jobs of %q: %w", env, err)
	}
	defer rows.Close()
	var out []store.JobRun
	for rows.Next() {
		var (
			j  store.JobRun
			ms int64
		)
		if err := rows.Scan(&j.Env, &j.Site, &j.Job, &j.Snapshot, &j.Digest, &j.Outcome, &ms); err != nil {
			return nil, fmt.Errorf("store: list jobs of %q: %w", env, err)
		}
		j.At = sqlstore.Time(ms)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list jobs of %q: %w", env, err)
	}
	return out, nil
}

const auditCols = `id, time_ms, actor, action, env, site, snapshot, outcome, detail`

// Audit implements store.Store. Time is kept if set, otherwise now, as in
// AppendEvent.
func (s *Store) Audit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = sqlstore.Norm(e.Time)
	err := s.w.QueryRowContext(ctx, `INSERT INTO audit
		(time_ms, actor, action, env, site, snapshot, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		sqlstore.Millis(e.Time), e.Actor, e.Action, e.Env, e.Site, e.Snapshot, e.Outcome, e.Detail,
	).Scan(&e.ID)
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("store: audit %s by %s: %w", e.Action, e.Actor, err)
	}
	return e, nil
}

// ListAudit implements store.Store. Newest means most recently appended
// (highest ID), whatever Time the caller gave.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	var q query
	q.eq("env", f.Env)
	q.eq("snapshot", f.Snapshot)
	q.eq("action", f.Action)
	q.eq("actor", f.Actor)
	if f.BeforeID > 0 {
		q.where("id <", f.BeforeID)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+auditCols+` FROM audit`+
		q.whereSQL()+` ORDER BY id DESC`+q.limitSQL(f.Limit), q.args...)
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	out, err := scanAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	return out, nil
}

func scanAudit(rows *sql.Rows) ([]store.AuditEntry, error) {
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
