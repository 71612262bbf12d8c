package store

import (
	"context"
	"time"
)

// GateStore keeps what admits a snapshot to a rung, in the store rather
// than in the working tree, so that editing files cannot change it:
// single-use deploy grants, the trusted signing keys, and each rung's
// pinned gate policy. Every Store implements it.
type GateStore interface {
	// PutGrant records a grant. Its Hash must be unique: a second grant
	// with the same hash is ErrConflict.
	PutGrant(ctx context.Context, g Grant) error
	// UseGrant consumes, at now, the grant whose token hashes to hash and
	// that was issued for env and snapshot. It is one compare-and-set: of
	// two uses, one wins. No grant with that hash for that env and
	// snapshot is ErrNotFound; a grant that was used already or has
	// expired is ErrConflict, with the grant as it is recorded returned,
	// so the caller can say which.
	UseGrant(ctx context.Context, hash, env, snapshot string, now time.Time) (Grant, error)

	// TrustKey records a trusted signing key. A key trusted already is
	// left as it is (created false); a key that was revoked is
	// ErrConflict: revocation is final.
	TrustKey(ctx context.Context, k TrustedKey) (created bool, err error)
	// RevokeKey revokes a trusted key by fingerprint: ErrNotFound when no
	// key has it, ErrConflict when it is revoked already.
	RevokeKey(ctx context.Context, fingerprint, by string, at time.Time) error
	// TrustedKeys lists every key ever trusted, revoked ones included,
	// oldest first.
	TrustedKeys(ctx context.Context) ([]TrustedKey, error)

	// PinPolicy records env's gate policy, replacing the pinned one.
	PinPolicy(ctx context.Context, p PinnedPolicy) error
	// PinnedPolicy returns env's pinned policy, or ErrNotFound.
	PinnedPolicy(ctx context.Context, env string) (PinnedPolicy, error)
}

// Grant is the right to put one snapshot on one rung once, issued after
// the rung's gates passed. Only the hash of its token is stored.
type Grant struct {
	Hash     string `json:"hash"`
	Env      string `json:"environment"`
	Snapshot string `json:"snapshot"`
	// Purpose says what issued it: "promotion N" or "rollback".
	Purpose string    `json:"purpose"`
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
	// Used is when it was consumed; zero while it is not.
	Used time.Time `json:"used,omitzero"`
}

// TrustedKey is a public key snapshots on signed rungs may be signed with.
type TrustedKey struct {
	// Fingerprint is the hex SHA-256 of the key's PKIX DER (sign.KeyID).
	Fingerprint string    `json:"fingerprint"`
	PEM         string    `json:"pem"`
	Added       time.Time `json:"added"`
	AddedBy     string    `json:"addedBy"`
	// Revoked is when the key stopped being trusted; zero while it is.
	Revoked   time.Time `json:"revoked,omitzero"`
	RevokedBy string    `json:"revokedBy,omitempty"`
}

// PinnedPolicy is a rung's gate policy as the store holds it.
type PinnedPolicy struct {
	Env string `json:"environment"`
	// Policy is the policy's JSON document (its shape belongs to package
	// promote).
	Policy string    `json:"policy"`
	Pinned time.Time `json:"pinned"`
	By     string    `json:"by"`
}
