package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ladderhq/ladder/examples/trading/internal/seed"
)

// Seed loads the users and trades of d with their seeded IDs. Rows that
// are there already are left as they are, so seeding twice (every release
// runs the job) changes nothing, and rows created through the APIs are
// kept. It returns how many rows it inserted.
func Seed(ctx context.Context, pool *pgxpool.Pool, d *seed.Data) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, u := range d.Users {
			b.Queue(`INSERT INTO users (id, name, email, created_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT DO NOTHING`, u.ID, u.Name, u.Email, u.CreatedAt)
		}
		for _, t := range d.Trades {
			b.Queue(`INSERT INTO trades (id, user_id, symbol, side, qty, price, placed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT DO NOTHING`, t.ID, t.User, t.Symbol, string(t.Side), t.Qty, int64(t.Price), t.Time)
		}
		// The next ID the APIs hand out follows the seeded ones.
		for _, table := range []string{"users", "trades"} {
			b.Queue(fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), COALESCE((SELECT max(id) FROM %[1]s), 0) + 1, false)`, table))
		}
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		for range len(d.Users) + len(d.Trades) {
			tag, err := br.Exec()
			if err != nil {
				return err
			}
			n += tag.RowsAffected()
		}
		for range 2 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return br.Close()
	})
	return n, err
}
