package open

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/postgres"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

// EnvVar names the environment variable that points ladder at a store
// other than the project's own SQLite file, for example
// LADDER_STORE=postgres://ladder:PASSWORD@db.internal:5432/ladder.
const EnvVar = "LADDER_STORE"

// Open opens the store at location: a postgres:// or postgresql:// URL is
// a PostgreSQL database; otherwise location is a SQLite file path (an
// optional "sqlite:" prefix is dropped). Errors never show a DSN's
// password.
//
// Other URL schemes and libpq key=value strings are refused rather than
// taken for odd file names.
func Open(ctx context.Context, location string) (store.Store, error) {
	switch {
	case postgres.IsDSN(location):
		return postgres.Open(ctx, location)
	case keyValue.MatchString(location):
		return nil, fmt.Errorf("store: open %s: give PostgreSQL as a postgres:// URL", postgres.Redact(location))
	case strings.Contains(location, "://"):
		scheme, _, _ := strings.Cut(location, "://")
		return nil, fmt.Errorf("store: open: unknown store scheme %q (want postgres:// or a SQLite file path)", scheme)
	}
	return sqlite.Open(strings.TrimPrefix(location, "sqlite:"))
}

// keyValue matches the start of a libpq key=value connection string.
var keyValue = regexp.MustCompile(`^\s*(host|hostaddr|port|dbname|user|password|service|sslmode)\s*=`)

// Describe names location for logs and messages, with any password
// masked.
func Describe(location string) string {
	if postgres.IsDSN(location) || keyValue.MatchString(location) || strings.Contains(location, "://") {
		return postgres.Redact(location)
	}
	return strings.TrimPrefix(location, "sqlite:")
}
