// Package sqlstore holds what ladder's SQL stores (SQLite and PostgreSQL)
// share beside their SQL: the format of the migration files and the check
// of a database's schema history, how times are stored, and the checks a
// record passes before either store writes it. Keeping them here is what
// keeps the two stores from drifting apart; the conformance suite
// (package storetest) checks the behaviour that follows.
package sqlstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// Millis is how a store keeps a time: milliseconds since the Unix epoch.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// Time is the inverse of Millis; stored times always come back in UTC.
func Time(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Norm is what a time becomes once stored, so that a store can return a
// record exactly as a later read will see it.
func Norm(t time.Time) time.Time { return Time(Millis(t)) }

// Now is the current time at storage precision.
func Now() time.Time { return Norm(time.Now()) }

// NewStoreID returns a random store identity: 16 bytes, hex.
func NewStoreID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CheckLease refuses a lease request no holder could make sense of.
func CheckLease(name string, h store.Holder, ttl time.Duration) error {
	switch {
	case name == "":
		return errors.New("lease name must not be empty")
	case h.Instance == "" || h.Host == "":
		return errors.New("lease holder must name a host and an instance")
	case ttl <= 0:
		return fmt.Errorf("lease duration %s must be positive", ttl)
	}
	return nil
}

// TokenArgs are a token's column values, in the order both stores' tokens
// tables take them: name, hash, grants (comma-separated), created and
// expires (milliseconds; 0 for a token that does not expire). A zero
// Created is now.
func TokenArgs(t store.Token) []any {
	if t.Created.IsZero() {
		t.Created = Now()
	}
	var exp int64
	if !t.Expires.IsZero() {
		exp = Millis(t.Expires)
	}
	return []any{t.Name, t.Hash, strings.Join(t.Grants, ","), Millis(t.Created), exp}
}
