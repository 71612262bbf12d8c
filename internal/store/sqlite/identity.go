package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	sqlite3 "modernc.org/sqlite"

	"github.com/ladderhq/ladder/internal/atomicfile"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlstore"
)

// IdentityFile is the name of the file, beside the database, that records
// which store the directory's history is kept in. The database holds the
// same identity in store_meta. The two together let every ladder process
// tell a store it may use from one that replaced the history: a deleted
// database file, another file moved in its place, or one truncated to
// nothing would otherwise open as a new, empty store, and status, history
// and audit would report nothing with exit 0.
const IdentityFile = "store.id"

// identity is the content of IdentityFile.
type identity struct {
	// ID is the store's identity (store_meta "id").
	ID string `json:"id"`
	// Database is the base name of the database file it belongs to; a
	// store.id naming another file is left alone.
	Database string `json:"database"`
	// Created is when the store was created.
	Created time.Time `json:"created"`
	// Releases is set once the store recorded a release: from then on a
	// missing database is history lost, never a fresh start.
	Releases bool `json:"releases"`
}

// LostError says that the database at Path is not the store the
// project's history is in. It wraps store.ErrLost or store.ErrDamaged.
type LostError struct {
	Path   string
	Reason string
	// Hint says what to do about it.
	Hint string
	// Damaged is set for a file that is damaged rather than gone.
	Damaged bool
	Err     error
}

func (e *LostError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("store %s: %s: %v", e.Path, e.Reason, e.Err)
	}
	return fmt.Sprintf("store %s: %s", e.Path, e.Reason)
}

// Is makes errors.Is(err, store.ErrLost) (or store.ErrDamaged) true.
func (e *LostError) Is(target error) bool {
	if e.Damaged {
		return target == store.ErrDamaged
	}
	return target == store.ErrLost
}

func (e *LostError) Unwrap() error { return e.Err }

func identityPath(dbPath string) string {
	return filepath.Join(filepath.Dir(dbPath), IdentityFile)
}

// readIdentity returns the identity recorded beside dbPath, or nil when
// there is none (or it belongs to a database of another name).
func readIdentity(dbPath string) (*identity, error) {
	b, err := os.ReadFile(identityPath(dbPath))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var id identity
	if err := json.Unmarshal(b, &id); err != nil || id.ID == "" {
		return nil, &LostError{Path: dbPath, Reason: fmt.Sprintf("%s is unreadable", identityPath(dbPath)),
			Hint: fmt.Sprintf("restore %s from a backup, or remove it if %s is the store to keep", IdentityFile, filepath.Base(dbPath))}
	}
	if id.Database != filepath.Base(dbPath) {
		return nil, nil
	}
	return &id, nil
}

// writeIdentity replaces the identity file atomically.
func writeIdentity(dbPath string, id identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(identityPath(dbPath), append(b, '\n'), 0o600)
}

// damaged reports whether err is SQLite saying the file is not a
// database or is malformed.
func damaged(err error) bool {
	var se *sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
		return true
	}
	return false
}

// damagedError is the error for a database SQLite cannot read.
func damagedError(path string, err error) *LostError {
	return &LostError{Path: path, Reason: "the database is damaged", Damaged: true, Err: err,
		Hint: fmt.Sprintf("keep a copy of the file, then recover what it holds with the sqlite3 tool: "+
			"sqlite3 %s .recover | sqlite3 %s.recovered && mv %s.recovered %s; "+
			"or restore a backup from %s (ladder makes one before each schema upgrade)",
			path, path, path, path, filepath.Join(filepath.Dir(path), BackupDir))}
}

// metaID reads the identity a database holds ("" when it holds none,
// as a database made by an older ladder or an empty file).
func metaID(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (string, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'store_meta'`).Scan(&n); err != nil {
		return "", err
	}
	if n == 0 {
		return "", nil
	}
	var id string
	err := q.QueryRowContext(ctx, `SELECT value FROM store_meta WHERE key = 'id'`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// checkIdentity compares the database that was just opened (before any
// migration touched it) with the identity recorded beside it. w is nil
// for a file that is missing or empty, which is not opened at all.
func checkIdentity(ctx context.Context, w *sql.DB, path string, rec *identity, existed bool) error {
	if rec == nil || !rec.Releases {
		// Nothing recorded, or a store that never held a release: a
		// new store loses nothing.
		return nil
	}
	restore := fmt.Sprintf("stop what runs first (ladder down); then restore %s from a backup (ladder keeps copies in %s), or, to start a new, empty history instead, move %s* and %s aside",
		filepath.Base(path), filepath.Join(filepath.Dir(path), BackupDir), path, identityPath(path))
	if !existed {
		return &LostError{Path: path, Reason: fmt.Sprintf("the database file is missing, but %s says store %s with releases was here", IdentityFile, rec.ID), Hint: restore}
	}
	var id string
	if w != nil {
		var err error
		if id, err = metaID(ctx, w); err != nil {
			if damaged(err) {
				return damagedError(path, err)
			}
			return err
		}
	}
	switch {
	case id == "":
		return &LostError{Path: path, Reason: fmt.Sprintf("the database is empty or was truncated, but %s says store %s with releases was here", IdentityFile, rec.ID), Hint: restore}
	case id != rec.ID:
		return &LostError{Path: path, Reason: fmt.Sprintf("the database is store %s, but %s says the history is in store %s: the file was replaced", id, IdentityFile, rec.ID),
			Hint: fmt.Sprintf("put store %s back; if this %s is the store to keep, remove %s", rec.ID, filepath.Base(path), identityPath(path))}
	}
	return nil
}

// ensureIdentity gives a migrated database its identity (keeping the one
// it has) and records it beside the file.
func (s *Store) ensureIdentity(ctx context.Context, rec *identity) error {
	if _, err := s.w.DB.ExecContext(ctx, `INSERT INTO store_meta (key, value) VALUES ('id', $1) ON CONFLICT (key) DO NOTHING`, sqlstore.NewStoreID()); err != nil {
		return fmt.Errorf("record store identity: %w", err)
	}
	id, err := metaID(ctx, s.w.DB)
	if err != nil {
		return fmt.Errorf("read store identity: %w", err)
	}
	var releases bool
	if err := s.w.DB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM releases)`).Scan(&releases); err != nil {
		return fmt.Errorf("read store identity: %w", err)
	}
	s.id = id
	want := identity{ID: id, Database: filepath.Base(s.path), Created: time.Now().UTC().Truncate(time.Second), Releases: releases}
	if rec != nil && rec.ID == id {
		want.Created = rec.Created
		if rec.Releases == releases {
			s.marked.Store(releases)
			return nil
		}
	}
	if err := writeIdentity(s.path, want); err != nil {
		return fmt.Errorf("record store identity: %w", err)
	}
	s.marked.Store(releases)
	return nil
}

// markReleases records beside the database that the store now holds
// releases (once per process; the file is only rewritten the first time).
func (s *Store) markReleases() {
	if s.marked.Load() {
		return
	}
	s.markMu.Lock()
	defer s.markMu.Unlock()
	if s.marked.Load() {
		return
	}
	rec, err := readIdentity(s.path)
	if err == nil && rec != nil && rec.ID == s.id && rec.Releases {
		s.marked.Store(true)
		return
	}
	created := time.Now().UTC().Truncate(time.Second)
	if rec != nil {
		created = rec.Created
	}
	if err := writeIdentity(s.path, identity{ID: s.id, Database: filepath.Base(s.path), Created: created, Releases: true}); err == nil {
		s.marked.Store(true)
	}
}

// Check implements store.Checker: the file at the store's path must still
// be the one opened, not empty, and hold the store's identity. Once it
// fails the store stays lost and refuses every write, so an agent whose
// database was deleted stops writing into the deleted file.
func (s *Store) Check(ctx context.Context) error {
	if err := s.checkFile(); err != nil {
		return err
	}
	id, err := metaID(ctx, s.r)
	if err != nil {
		if damaged(err) {
			return s.lose(damagedError(s.path, err))
		}
		return fmt.Errorf("store %s: check: %w", s.path, err)
	}
	if id != s.id {
		return s.lose(&LostError{Path: s.path, Reason: fmt.Sprintf("the database was replaced or emptied while ladder had it open (it holds store %q, this process opened %s)", id, s.id),
			Hint: "stop what runs (ladder down), then put the database back or restore it from a backup"})
	}
	return nil
}

// checkFile is the cheap part of Check, run before every write: one stat
// of the path.
func (s *Store) checkFile() error {
	if lost := s.lost.Load(); lost != nil {
		return lost
	}
	if s.opened == nil {
		return nil
	}
	hint := "stop what runs (ladder down), then put the database back or restore it from a backup (" + filepath.Join(filepath.Dir(s.path), BackupDir) + ")"
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s.lose(&LostError{Path: s.path, Reason: "the database file was deleted while ladder had it open; nothing more is written to it", Hint: hint})
	case err != nil:
		return fmt.Errorf("store %s: %w", s.path, err)
	case !os.SameFile(fi, s.opened):
		return s.lose(&LostError{Path: s.path, Reason: "the database file was replaced by another file while ladder had it open; nothing more is written to the old one", Hint: hint})
	case fi.Size() == 0:
		return s.lose(&LostError{Path: s.path, Reason: "the database file was truncated to 0 bytes while ladder had it open", Hint: hint})
	}
	return nil
}

func (s *Store) lose(e *LostError) error {
	s.lost.CompareAndSwap(nil, e)
	return s.lost.Load()
}

// BackupDir is the directory, beside the database, that holds the copies
// ladder makes before a schema upgrade.
const BackupDir = "backups"

// backupBeforeMigrate copies a database that holds data into BackupDir
// before migrations change it (VACUUM INTO writes a consistent, compact
// copy while other processes keep reading). The last three are kept.
func backupBeforeMigrate(ctx context.Context, w *sql.DB, path string, from int) error {
	dir := filepath.Join(filepath.Dir(path), BackupDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := filepath.Join(dir, fmt.Sprintf("%s.v%d.%s", filepath.Base(path), from, time.Now().UTC().Format("20060102T150405Z")))
	if _, err := w.ExecContext(ctx, `VACUUM INTO $1`, name); err != nil {
		return fmt.Errorf("back up %s before upgrading its schema: %w", path, err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, filepath.Base(path)+".v*"))
	for len(old) > 3 {
		_ = os.Remove(old[0])
		old = old[1:]
	}
	return nil
}
