package postgres

import (
	"os"
	"testing"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/postgres/pgtest"
	"github.com/ladderhq/ladder/internal/store/storetest"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	stopBenchServer()
	os.Exit(code)
}

// openTemp opens a store on a new schema of the shared test server.
func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	dsn := pgtest.Schema(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, dsn
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTemp(t)
		return s
	})
}
