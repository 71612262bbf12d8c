package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

// PutGrant implements store.Store.
func (s *Store) PutGrant(ctx context.Context, g store.Grant) error {
	res, err := s.w.ExecContext(ctx, `INSERT INTO deploy_grants (hash, env, snapshot, purpose, issued_ms, expires_ms, used_ms)
		VALUES ($1, $2, $3, $4, $5, $6, 0) ON CONFLICT (hash) DO NOTHING`,
		g.Hash, g.Env, g.Snapshot, g.Purpose, sqlstore.Millis(g.Issued), sqlstore.Millis(g.Expires))
	if err != nil {
		return fmt.Errorf("store: put grant for %s on %s: %w", g.Snapshot, g.Env, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: put grant for %s on %s: %w", g.Snapshot, g.Env, err)
	} else if n == 0 {
		return fmt.Errorf("store: put grant for %s on %s: a grant with this hash exists: %w", g.Snapshot, g.Env, store.ErrConflict)
	}
	return nil
}

// UseGrant implements store.Store: one UPDATE decides which use wins.
func (s *Store) UseGrant(ctx context.Context, hash, env, snapshot string, now time.Time) (store.Grant, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE deploy_grants SET used_ms = $5
		WHERE hash = $1 AND env = $2 AND snapshot = $3 AND used_ms = 0 AND expires_ms > $4`,
		hash, env, snapshot, sqlstore.Millis(now), max(sqlstore.Millis(now), 1))
	if err != nil {
		return store.Grant{}, fmt.Errorf("store: use grant for %s on %s: %w", snapshot, env, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return store.Grant{}, fmt.Errorf("store: use grant for %s on %s: %w", snapshot, env, err)
	}
	g := store.Grant{Hash: hash, Env: env, Snapshot: snapshot}
	var issued, expires, used int64
	err = s.w.QueryRowContext(ctx, `SELECT purpose, issued_ms, expires_ms, used_ms FROM deploy_grants
		WHERE hash = $1 AND env = $2 AND snapshot = $3`, hash, env, snapshot).Scan(&g.Purpose, &issued, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Grant{}, fmt.Errorf("store: no grant for snapshot %s on %s: %w", snapshot, env, store.ErrNotFound)
	}
	if err != nil {
		return store.Grant{}, fmt.Errorf("store: use grant for %s on %s: %w", snapshot, env, err)
	}
	g.Issued, g.Expires = sqlstore.Time(issued), sqlstore.Time(expires)
	if used != 0 {
		g.Used = sqlstore.Time(used)
	}
	if n == 0 {
		return g, fmt.Errorf("store: grant for snapshot %s on %s is used or expired: %w", snapshot, env, store.ErrConflict)
	}
	return g, nil
}

// TrustKey implements store.Store.
func (s *Store) TrustKey(ctx context.Context, k store.TrustedKey) (bool, error) {
	res, err := s.w.ExecContext(ctx, `INSERT INTO trusted_keys (fingerprint, pem, added_ms, added_by)
		VALUES ($1, $2, $3, $4) ON CONFLICT (fingerprint) DO NOTHING`, k.Fingerprint, k.PEM, sqlstore.Millis(k.Added), k.AddedBy)
	if err != nil {
		return false, fmt.Errorf("store: trust key %s: %w", k.Fingerprint, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: trust key %s: %w", k.Fingerprint, err)
	}
	if n == 1 {
		return true, nil
	}
	var revoked int64
	if err := s.w.QueryRowContext(ctx, `SELECT revoked_ms FROM trusted_keys WHERE fingerprint = $1`, k.Fingerprint).Scan(&revoked); err != nil {
		return false, fmt.Errorf("store: trust key %s: %w", k.Fingerprint, err)
	}
	if revoked != 0 {
		return false, fmt.Errorf("store: trust key %s: it was revoked: %w", k.Fingerprint, store.ErrConflict)
	}
	return false, nil
}

// RevokeKey implements store.Store.
func (s *Store) RevokeKey(ctx context.Context, fingerprint, by string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE trusted_keys SET revoked_ms = $2, revoked_by = $3
		WHERE fingerprint = $1 AND revoked_ms = 0`, fingerprint, max(sqlstore.Millis(at), 1), by)
	if err != nil {
		return fmt.Errorf("store: revoke key %s: %w", fingerprint, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: revoke key %s: %w", fingerprint, err)
	} else if n == 1 {
		return nil
	}
	var revoked int64
	err = s.w.QueryRowContext(ctx, `SELECT revoked_ms FROM trusted_keys WHERE fingerprint = $1`, fingerprint).Scan(&revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: revoke key %s: %w", fingerprint, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: revoke key %s: %w", fingerprint, err)
	}
	return fmt.Errorf("store: revoke key %s: revoked already: %w", fingerprint, store.ErrConflict)
}

// TrustedKeys implements store.Store.
func (s *Store) TrustedKeys(ctx context.Context) ([]store.TrustedKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT fingerprint, pem, added_ms, added_by, revoked_ms, revoked_by
		FROM trusted_keys ORDER BY added_ms, fingerprint`)
	if err != nil {
		return nil, fmt.Errorf("store: trusted keys: %w", err)
	}
	defer rows.Close()
	var out []store.TrustedKey
	for rows.Next() {
		var k store.TrustedKey
		var added, revoked int64
		if err := rows.Scan(&k.Fingerprint, &k.PEM, &added, &k.AddedBy, &revoked, &k.RevokedBy); err != nil {
			return nil, fmt.Errorf("store: trusted keys: %w", err)
		}
		k.Added = sqlstore.Time(added)
		if revoked != 0 {
			k.Revoked = sqlstore.Time(revoked)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: trusted keys: %w", err)
	}
	return out, nil
}

// PinPolicy implements store.Store.
func (s *Store) PinPolicy(ctx context.Context, p store.PinnedPolicy) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO pinned_policies (env, policy, pinned_ms, by_actor) VALUES ($1, $2, $3, $4)
		ON CONFLICT (env) DO UPDATE SET policy = excluded.policy, pinned_ms = excluded.pinned_ms, by_actor = excluded.by_actor`,
		p.Env, p.Policy, sqlstore.Millis(p.Pinned), p.By); err != nil {
		return fmt.Errorf("store: pin policy of %s: %w", p.Env, err)
	}
	return nil
}

// PinnedPolicy implements store.Store.
func (s *Store) PinnedPolicy(ctx context.Context, env string) (store.PinnedPolicy, error) {
	p := store.PinnedPolicy{Env: env}
	var ms int64
	err := s.r.QueryRowContext(ctx, `SELECT policy, pinned_ms, by_actor FROM pinned_policies WHERE env = $1`, env).Scan(&p.Policy, &ms, &p.By)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("store: no policy pinned for %s: %w", env, store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("store: pinned policy of %s: %w", env, err)
	}
	p.Pinned = sqlstore.Time(ms)
	return p, nil
}
