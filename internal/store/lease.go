package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrLeaseLost: the lease is no longer the caller's: it expired, or another
// holder took it since (its epoch moved on).
var ErrLeaseLost = errors.New("lease lost")

// Holder identifies who holds a lease: a process on a host, told apart from
// any other process (including a later one given the same PID) by a random
// instance ID. Nothing judges a holder alive by its PID: a lease is live
// while its expiry lies ahead, and only its holder's renewals keep it so.
type Holder struct {
	Host     string `json:"host"`
	PID      int    `json:"pid"`
	Instance string `json:"instance"`
}

// String is the holder as one token, "host/pid/instance" (ParseHolder
// reads it back).
func (h Holder) String() string {
	return h.Host + "/" + strconv.Itoa(h.PID) + "/" + h.Instance
}

// IsZero reports whether h names nobody (a released lease's holder).
func (h Holder) IsZero() bool { return h == Holder{} }

// ParseHolder reads a Holder.String form.
func ParseHolder(s string) (Holder, bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return Holder{}, false
	}
	j := strings.LastIndexByte(s[:i], '/')
	if j < 0 {
		return Holder{}, false
	}
	pid, err := strconv.Atoi(s[j+1 : i])
	if err != nil || s[i+1:] == "" {
		return Holder{}, false
	}
	return Holder{Host: s[:j], PID: pid, Instance: s[i+1:]}, true
}

// Lease is the named right to act on something (an environment, a site's
// deploy, a rung's agent) until Expires. Epoch grows by one each time the
// lease is granted to a holder that did not hold it live, so a holder can
// tell its lease from a later one, and writes can be fenced by it.
type Lease struct {
	Name    string    `json:"name"`
	Holder  Holder    `json:"holder"`
	Epoch   int64     `json:"epoch"`
	Expires time.Time `json:"expires"`
}

// Live reports whether the lease is held at now.
func (l Lease) Live(now time.Time) bool {
	return !l.Holder.IsZero() && now.Before(l.Expires)
}

func (l Lease) String() string {
	return fmt.Sprintf("%s held by %s (epoch %d) until %s", l.Name, l.Holder, l.Epoch, l.Expires.Format(time.RFC3339Nano))
}

// Leases is the store's record of who owns what. Expiry is judged by the
// caller's clock (now), as the expiry itself was set by a caller's clock;
// holders renew well before expiry, so modest clock skew between machines
// sharing a store costs nothing but a later takeover.
type Leases interface {
	// AcquireLease grants name to h until now+ttl when it is free,
	// expired at now, or already h's (then it is extended and keeps its
	// epoch). Otherwise it returns the live holder's lease and ErrLocked.
	// Of any number of concurrent callers exactly one is granted it.
	AcquireLease(ctx context.Context, name string, h Holder, now time.Time, ttl time.Duration) (Lease, error)
	// RenewLease extends l to now+ttl if it is still l's holder's at
	// l's epoch and not expired at now; otherwise ErrLeaseLost.
	RenewLease(ctx context.Context, l Lease, now time.Time, ttl time.Duration) (Lease, error)
	// ReleaseLease frees l if it is still l's holder's at l's epoch;
	// otherwise it does nothing. The epoch is kept, so the next grant's
	// is higher.
	ReleaseLease(ctx context.Context, l Lease) error
	// GetLease returns the lease's record (live or not), or ErrNotFound
	// when it was never granted.
	GetLease(ctx context.Context, name string) (Lease, error)
	// ListLeases returns the leases whose name starts with prefix (all
	// when empty), live or not, ordered by name.
	ListLeases(ctx context.Context, prefix string) ([]Lease, error)
}
