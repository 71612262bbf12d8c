package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/postgres"
	"github.com/ladderhq/ladder/internal/store/postgres/pgtest"
)

// TestSharedPostgresStore: with LADDER_STORE naming a PostgreSQL database,
// ladder keeps its record there - snapshots, releases, events - and not in
// the project's SQLite file; and no command ever shows the DSN's password,
// also when the database cannot be reached.
func TestSharedPostgresStore(t *testing.T) {
	const pw = "e2e-Secret-7Qx"
	// The test server trusts every local connection, so any password
	// works; it is here to prove it never leaks.
	dsn := strings.Replace(pgtest.Schema(t), "postgres://postgres@", "postgres://postgres:"+pw+"@", 1)
	p := newProject(t)
	p.env = append(p.env, "LADDER_STORE="+dsn)

	// A shared store gets no local token: without one, changes are
	// refused; its first token, an admin, needs no credential.
	if res := p.run("up", "-d"); res.code != 8 {
		t.Errorf("up on a shared store without a token: %s, want exit 8", res)
	}
	if res := p.run("token", "create", "ops", "--role", "deployer"); res.code != 8 {
		t.Errorf("a first token that is no admin: %s, want exit 8", res)
	}
	ops := p.createToken("ops", "admin")
	if res := p.run("token", "create", "eve", "--role", "admin"); res.code != 8 {
		t.Errorf("a second token without a credential: %s, want exit 8", res)
	}
	if _, err := os.Stat(filepath.Join(p.dir, ".ladder", "admin.token")); err == nil {
		t.Error("a local admin token was made for a shared store")
	}
	p.env = append(p.env, "LADDER_TOKEN="+ops)

	up := p.upJSON("-d")
	hist := p.run("history", "-o", "json")
	if hist.code != 0 {
		t.Fatalf("ladder history: %s", hist)
	}
	if _, err := os.Stat(filepath.Join(p.dir, ".ladder", "ladder.db")); err == nil {
		t.Error("the project's SQLite file was created although LADDER_STORE names PostgreSQL")
	}

	// The record is in PostgreSQL.
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("open the shared store: %v", err)
	}
	defer s.Close()
	if _, err := s.GetSnapshot(t.Context(), up.Snapshot.ID); err != nil {
		t.Errorf("snapshot %s not in PostgreSQL: %v", up.Snapshot.ID, err)
	}
	rels, err := s.ListReleases(t.Context(), store.ReleaseFilter{Snapshot: up.Snapshot.ID})
	if err != nil || len(rels) == 0 || rels[0].Phase != store.PhaseSucceeded {
		t.Errorf("releases of %s in PostgreSQL: %+v, %v; want a succeeded one", up.Snapshot.ID, rels, err)
	}
	events, err := s.ListEvents(t.Context(), store.EventFilter{Snapshot: up.Snapshot.ID})
	if err != nil || len(events) == 0 {
		t.Errorf("events of %s in PostgreSQL: %d, %v", up.Snapshot.ID, len(events), err)
	}
	if !strings.Contains(hist.stdout, up.Snapshot.ID) {
		t.Errorf("ladder history does not show %s:\n%s", up.Snapshot.ID, hist)
	}

	// An unreachable database fails the command, without the password.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	bad := fmt.Sprintf("postgres://ladder:%s@127.0.0.1:%d/ladder?connect_timeout=3", pw, closed)
	q := *p
	q.env = append(append([]string(nil), p.env...), "LADDER_STORE="+bad)
	res := q.run("history")
	if res.code == 0 {
		t.Errorf("ladder history with an unreachable store: %s, want a failure", res)
	}
	if !strings.Contains(res.stderr, "127.0.0.1") {
		t.Errorf("the failure does not say which store: %s", res)
	}

	for _, r := range []result{hist, res, p.run("status"), p.run("snapshots")} {
		if strings.Contains(r.stdout+r.stderr, pw) {
			t.Errorf("output shows the store's password:\n%s", r)
		}
	}
}
