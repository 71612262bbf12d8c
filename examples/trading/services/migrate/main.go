// Command migrate is the trading demo's migration job: it runs to
// completion before the users and trades APIs start, on every rung, and
// again whenever a release brings another build of it (compose.yaml:
// x-ladder job: migration, and the APIs' depends_on:
// service_completed_successfully).
//
// It applies the numbered SQL migrations of internal/db/migrations that
// the database has not had, recording each in schema_migrations, so a
// second run does nothing. Then, when the rung's data class (LADDER_DATA)
// is throwaway or seeded, it loads the deterministic seed data of SEED
// (default 42): 20 users and 100 trades with fixed IDs, inserted only
// where missing. On "real" (and "synthetic") data it never seeds.
//
// Environment: DATABASE_URL (required), SEED, LADDER_DATA, LADDER_SNAPSHOT.
// Exit status: 0 done, 1 the database or a migration failed, 2 bad
// configuration.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/examples/trading/internal/db"
	"github.com/ladderhq/ladder/examples/trading/internal/seed"
)

// connectWait is how long the job waits for the database: it starts once
// the database is healthy, so this only covers a restart in between.
const connectWait = 60 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, getenv func(string) string, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("service", "migrate", "snapshot", getenv("LADDER_SNAPSHOT"))
	url := getenv("DATABASE_URL")
	seedValue := seed.Default
	var bad []string
	if url == "" {
		bad = append(bad, "DATABASE_URL is not set")
	}
	if v := strings.TrimSpace(getenv("SEED")); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			bad = append(bad, fmt.Sprintf("SEED %q is not an unsigned integer", v))
		}
		seedValue = n
	}
	if len(bad) > 0 {
		log.Error("invalid configuration", "err", strings.Join(bad, "; "))
		return 2
	}
	migrations, err := db.Migrations()
	if err != nil {
		log.Error("reading migrations", "err", err)
		return 2
	}

	start := time.Now()
	pool, err := db.Connect(ctx, url, connectWait)
	if err != nil {
		log.Error("connecting to the database", "err", err)
		return 1
	}
	defer pool.Close()
	res, err := db.Migrate(ctx, pool, migrations)
	for _, m := range res.Applied {
		log.Info("migration applied", "version", m.Version, "name", m.Name)
	}
	if err != nil {
		log.Error("migration failed", "err", err)
		return 1
	}
	latest := 0
	if n := len(migrations); n > 0 {
		latest = migrations[n-1].Version
	}
	if len(res.Ahead) > 0 {
		// A rollback: a later release expanded the schema. Expand-only
		// migrations keep this release's code working on it.
		log.Warn("the database has migrations this release does not know; leaving them (expand/contract keeps them compatible)", "versions", res.Ahead)
	}
	log.Info("schema up to date", "version", latest, "applied", len(res.Applied))

	class := getenv("LADDER_DATA")
	if !seed.Applies(class) {
		log.Info("seed data skipped", "data", class)
		return 0
	}
	n, err := db.Seed(ctx, pool, seed.Generate(seedValue))
	if err != nil {
		log.Error("seeding failed", "err", err)
		return 1
	}
	log.Info("seed data loaded", "data", class, "seed", seedValue, "inserted", n, "took", time.Since(start).Round(time.Millisecond))
	return 0
}
