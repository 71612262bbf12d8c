package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

const eventCols = `id, time_ms, kind, env, site, snapshot, service, message, attrs`

// AppendEvent implements store.Store.
//
// IDs come from the single SQLite writer, so they are assigned in commit
// order across every process sharing the file: a tailer that has seen ID n
// can never later miss an event with a smaller ID. (A PostgreSQL store must
// take care to keep that property; sequences alone do not give it.)
func (s *Store) AppendEvent(ctx context.Context, e store.Event) (store.Event, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = sqlstore.Norm(e.Time)
	// Empty attrs are stored as NULL and read back as nil.
	var attrs sql.NullString
	if len(e.Attrs) > 0 {
		b, err := json.Marshal(e.Attrs)
		if err != nil {
			return store.Event{}, fmt.Errorf("store: append event %s: %w", e.Kind, err)
		}
		attrs = sql.NullString{String: string(b), Valid: true}
	} else {
		e.Attrs = nil
	}
	err := s.w.QueryRowContext(ctx, `INSERT INTO events
		(time_ms, kind, env, site, snapshot, service, message, attrs)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		sqlstore.Millis(e.Time), string(e.Kind), e.Env, e.Site, e.Snapshot, e.Service, e.Message, attrs,
	).Scan(&e.ID)
	if err != nil {
		return store.Event{}, fmt.Errorf("store: append event %s: %w", e.Kind, err)
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventCols+` FROM events`+
		q.whereSQL()+order+q.limitSQL(f.Limit), q.args...)
	if err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	events, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	if f.AfterID <= 0 && f.Limit > 0 {
		slices.Reverse(events)
	}
	return events, nil
}

func scanEvents(rows *sql.Rows) ([]store.Event, error) {
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var (
			e     store.Event
			ms    int64
			kind  string
			attrs sql.NullString
		)
		if err := rows.Scan(&e.ID, &ms, &kind, &e.Env, &e.Site, &e.Snapshot, &e.Service, &e.Message, &attrs); err != nil {
			return nil, err
		}
		e.Time = sqlstore.Time(ms)
		e.Kind = store.EventKind(kind)
		if attrs.Valid {
			if err := json.Unmarshal([]byte(attrs.String), &e.Attrs); err != nil {
				return nil, fmt.Errorf("event %d: decode attrs: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
