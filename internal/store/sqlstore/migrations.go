package sqlstore

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one numbered schema change, applied at most once per
// database.
type Migration struct {
	Version int
	Name    string // the file's name, NNNN_description.sql
	SQL     string
}

// LoadMigrations reads migrations/NNNN_description.sql from fsys, in
// ascending order of version. Versions must be positive and distinct; gaps
// are allowed, since changes made side by side pick numbers apart and may
// land in either order: each store applies what its database has not
// recorded, not what lies above the highest version.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	const dir = "migrations"
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var migs []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		migs = append(migs, Migration{Version: v, Name: name, SQL: string(body)})
	}
	slices.SortFunc(migs, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(migs); i++ {
		if migs[i].Version == migs[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s have the same version %d: renumber one", migs[i-1].Name, migs[i].Name, migs[i].Version)
		}
	}
	return migs, nil
}

// CheckKnown refuses a database that recorded a migration migs lacks: it
// was migrated by a newer ladder (or one built from another branch), and
// this one would misread it.
func CheckKnown(applied map[int]bool, migs []Migration) error {
	known := map[int]bool{}
	highest := 0
	for _, m := range migs {
		known[m.Version] = true
		highest = max(highest, m.Version)
	}
	var unknown []int
	for v := range applied {
		if !known[v] {
			unknown = append(unknown, v)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	if last := unknown[len(unknown)-1]; last > highest {
		return fmt.Errorf("database schema version %d is newer than this ladder supports (%d); upgrade ladder", last, highest)
	}
	return fmt.Errorf("database schema has migration %d, which this ladder does not know; upgrade ladder", unknown[0])
}
