package sqlite

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

// withRelease opens a store at a new path, records one release and closes
// it: a store whose history matters.
func withRelease(t *testing.T) (path, id string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "ladder.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRelease(t.Context(), store.Release{Env: "local", Site: "default", Snapshot: hexID("a")}); err != nil {
		t.Fatal(err)
	}
	id = s.ID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, id
}

func hexID(seed string) string { return strings.Repeat(seed, 64)[:64] }

func wantLost(t *testing.T, err error, target error, words ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
	var lost *LostError
	if !errors.As(err, &lost) || lost.Hint == "" {
		t.Fatalf("error %v carries no hint", err)
	}
	text := err.Error() + " " + lost.Hint
	for _, w := range words {
		if !strings.Contains(text, w) {
			t.Errorf("error %q / hint %q does not say %q", err, lost.Hint, w)
		}
	}
}

func TestIdentityRecorded(t *testing.T) {
	path, id := withRelease(t)
	rec, err := readIdentity(path)
	if err != nil || rec == nil {
		t.Fatalf("identity file: %+v, %v", rec, err)
	}
	if rec.ID != id || !rec.Releases || rec.Database != "ladder.db" || len(id) != 32 {
		t.Errorf("identity file %+v, want id %s with releases", rec, id)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatalf("reopening the same store: %v", err)
	}
	defer s.Close()
	if s.ID() != id {
		t.Errorf("reopened store has id %s, want %s", s.ID(), id)
	}
}

func TestOpenRefusesDeletedStore(t *testing.T) {
	path, _ := withRelease(t)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a deleted store with releases: no error")
	}
	wantLost(t, err, store.ErrLost, "missing", "backup", IdentityFile)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open created a new database in place of the lost one (%v)", err)
	}
}

func TestOpenRefusesTruncatedStore(t *testing.T) {
	path, _ := withRelease(t)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a store truncated to 0 bytes: no error")
	}
	wantLost(t, err, store.ErrLost, "truncated", "backup")
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Errorf("Open wrote %d bytes into the truncated file", fi.Size())
	}
}

func TestOpenRefusesReplacedStore(t *testing.T) {
	path, id := withRelease(t)
	other := filepath.Join(t.TempDir(), "ladder.db")
	s2, err := Open(other)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	b, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a replaced store: no error")
	}
	wantLost(t, err, store.ErrLost, "replaced", id)
}

func TestOpenDamagedStoreHints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ladder.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database, just bytes. ", 300)), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a file that is not a database: no error")
	}
	wantLost(t, err, store.ErrDamaged, "damaged", ".recover", BackupDir)
}

func TestOpenHalfTruncatedStoreHints(t *testing.T) {
	path, _ := withRelease(t)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Fill it so that it has pages to lose, and checkpoint them into the file.
	for i := range 200 {
		if _, err := s.AppendEvent(t.Context(), store.Event{Kind: store.EventBuilt, Message: strings.Repeat("x", 500) + string(rune('a'+i%26))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.w.DB.ExecContext(t.Context(), `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, _ := os.Stat(path)
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err == nil {
		_, err = s.ListEvents(t.Context(), store.EventFilter{})
		s.Close()
	}
	if err == nil {
		t.Fatal("a database truncated to half its size opened and read without error")
	}
	if !errors.Is(err, store.ErrDamaged) && !strings.Contains(err.Error(), "malformed") {
		t.Errorf("error %v: want a damaged-store error", err)
	}
}

func TestNoHistoryMeansNothingLost(t *testing.T) {
	// A store that never held a release may be deleted: nothing is lost,
	// so the next Open starts afresh without complaint.
	path := filepath.Join(t.TempDir(), "ladder.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	first := s.ID()
	s.Close()
	os.Remove(path)
	s, err = Open(path)
	if err != nil {
		t.Fatalf("Open after deleting a store without releases: %v", err)
	}
	defer s.Close()
	if s.ID() == first {
		t.Error("a new store kept the old identity")
	}
	if rec, _ := readIdentity(path); rec == nil || rec.ID != s.ID() {
		t.Errorf("identity file %+v not updated to %s", rec, s.ID())
	}
}

func TestOpenStoreDeletedUnderneath(t *testing.T) {
	path, _ := withRelease(t)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check of a healthy store: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, err = s.AppendEvent(ctx, store.Event{Kind: store.EventBuilt, Message: "into the void"})
	wantLost(t, err, store.ErrLost, "deleted")
	if _, err := s.CreateRelease(ctx, store.Release{Env: "local"}); !errors.Is(err, store.ErrLost) {
		t.Errorf("CreateRelease after the file was deleted: %v, want ErrLost", err)
	}
	if err := s.AppendSamples(ctx, []store.Sample{{Env: "local"}}); !errors.Is(err, store.ErrLost) {
		t.Errorf("AppendSamples after the file was deleted: %v, want ErrLost", err)
	}
	if err := s.Check(ctx); !errors.Is(err, store.ErrLost) {
		t.Errorf("Check after the file was deleted: %v, want ErrLost", err)
	}
}

func TestOpenStoreTruncatedUnderneath(t *testing.T) {
	path, _ := withRelease(t)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(t.Context()); !errors.Is(err, store.ErrLost) {
		t.Errorf("Check after truncation: %v, want ErrLost", err)
	}
	if _, err := s.AppendEvent(t.Context(), store.Event{Kind: store.EventBuilt}); !errors.Is(err, store.ErrLost) {
		t.Errorf("AppendEvent after truncation: %v, want ErrLost", err)
	}
}

func TestBackupBeforeUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ladder.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	backups := filepath.Join(filepath.Dir(path), BackupDir, "*")
	if matches, _ := filepath.Glob(backups); len(matches) != 0 {
		t.Errorf("an up-to-date store was backed up: %v", matches)
	}

	// A database at schema version 1 with a release in it.
	migs, err := sqlstore.LoadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), "ladder.db")
	db, err := sql.Open("sqlite", dsn(old, true))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if err := migrate(t.Context(), db, migs[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO releases (env, site, snapshot, phase, started_ms) VALUES ('prod', 'eu-1', 'abcd', 'succeeded', 1000)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = Open(old)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(old), BackupDir, "ladder.db.v1.*"))
	if len(matches) != 1 {
		t.Fatalf("backups after upgrading from version 1: %v, want one", matches)
	}
	b, err := sql.Open("sqlite", matches[0])
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var n int
	if err := b.QueryRow(`SELECT COUNT(*) FROM releases`).Scan(&n); err != nil || n != 1 {
		t.Errorf("backup holds %d releases (%v), want 1", n, err)
	}
	// The upgraded store records that it holds releases.
	if rec, _ := readIdentity(old); rec == nil || !rec.Releases {
		t.Errorf("identity after upgrade: %+v, want releases", rec)
	}
}
