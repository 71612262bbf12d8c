package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

const eventCols = `id, time_ms, kind, env, site, snapshot, service, message, attrs`

// eventsLockKey is the transaction-scoped advisory lock AppendEvent holds
// from taking an ID to committing ("ladder" in ASCII, then 2).
const eventsLockKey int64 = 0x6c61646465720002

// AppendEvent implements store.Store.
//
// A tailer reads "events after ID n", so an event must never become
// visible after one with a greater ID. A sequence alone does not promise
// that: two transactions can take IDs 10 and 11 and commit 11 first, and a
// tailer polling in between moves its cursor past 10 for good. So the
// insert first takes a transaction-scoped advisory lock, held until its
// commit: IDs are taken and committed one transaction at a time, across
// every process sharing the database. The lock, the insert and the commit
// are one statement (one round trip); PostgreSQL makes the commit visible
// before it releases the lock.
func (s *Store) AppendEvent(ctx context.Context, e store.Event) (store.Event, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = sqlstore.Norm(e.Time)
	// Empty attrs are stored as NULL and read back as nil.
	var attrs *string
	if len(e.Attrs) > 0 {
		b, err := json.Marshal(e.Attrs)
		if err != nil {
			return store.Event{}, s.wrap(err, "append event %s", e.Kind)
		}
		a := string(b)
		attrs = &a
	} else {
		e.Attrs = nil
	}
	// The CTE calls a volatile function, so PostgreSQL evaluates it before
	// the row it feeds is inserted and the identity default is drawn.
	err := s.pool.QueryRow(ctx, `WITH serial AS (SELECT pg_advisory_xact_lock($9))
		INSERT INTO events (time_ms, kind, env, site, snapshot, service, message, attrs)
		SELECT $1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text FROM serial
		RETURNING id`,
		sqlstore.Millis(e.Time), string(e.Kind), e.Env, e.Site, e.Snapshot, e.Service, e.Message, attrs, eventsLockKey,
	).Scan(&e.ID)
	if err != nil {
		return store.Event{}, s.wrap(err, "append event %s", e.Kind)
	}
	return e, nil
}

// ListEvents implements store.Store.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	var q query
	q.eq("env", f.Env)
	q.eq("site", f.Site)
	q.eq("snapshot", f.Snapshot)
	q.eq("service", f.Service)
	q.eq("kind", string(f.Kind))
	// Tailing reads forward from the cursor; otherwise Limit keeps the
	// newest events, which are read backwards and reversed below.
	order := " ORDER BY id DESC"
	if f.AfterID > 0 {
		q.where("id >", f.AfterID)
		order = " ORDER BY id"
	} else if f.BeforeID > 0 {
		q.where("id <", f.BeforeID)
	}
	if f.AfterID <= 0 && f.Limit <= 0 {
		order = " ORDER BY id"
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events`+
		q.whereSQL()+order+q.limitSQL(f.Limit), q.args...)
	if err != nil {
		return nil, s.wrap(err, "list events")
	}
	events, err := scanEvents(rows)
	if err != nil {
		return nil, s.wrap(err, "list events")
	}
	if f.AfterID <= 0 && f.Limit > 0 {
		slices.Reverse(events)
	}
	return events, nil
}

func scanEvents(rows pgx.Rows) ([]store.Event, error) {
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var (
			e     store.Event
			ms    int64
			kind  string
			attrs *string
		)
		if err := rows.Scan(&e.ID, &ms, &kind, &e.Env, &e.Site, &e.Snapshot, &e.Service, &e.Message, &attrs); err != nil {
			return nil, err
		}
		e.Time = sqlstore.Time(ms)
		e.Kind = store.EventKind(kind)
		if attrs != nil {
			if err := json.Unmarshal([]byte(*attrs), &e.Attrs); err != nil {
				return nil, fmt.Errorf("event %d: decode attrs: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
