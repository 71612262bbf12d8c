package sqlstore

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	good := fstest.MapFS{
		"migrations/0002_b.sql": file("B"),
		"migrations/0001_a.sql": file("A"),
		"migrations/README":     file("ignored"),
	}
	migs, err := LoadMigrations(good)
	if err != nil || len(migs) != 2 || migs[0].SQL != "A" || migs[1].Version != 2 {
		t.Errorf("LoadMigrations: %+v, %v", migs, err)
	}
	// Numbers picked side by side leave gaps: they load, in order.
	gap := fstest.MapFS{
		"migrations/0006_f.sql": file("F"),
		"migrations/0001_a.sql": file("A"),
		"migrations/0004_d.sql": file("D"),
	}
	if migs, err := LoadMigrations(gap); err != nil || len(migs) != 3 || migs[1].Version != 4 || migs[2].Version != 6 {
		t.Errorf("LoadMigrations with gaps: %+v, %v", migs, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"repeat":   {"migrations/0001_a.sql": file(""), "migrations/0001_b.sql": file("")},
		"repeat2":  {"migrations/0001_a.sql": file(""), "migrations/0003_b.sql": file(""), "migrations/003_c.sql": file("")},
		"bad name": {"migrations/init.sql": file("")},
		"zero":     {"migrations/0000_z.sql": file("")},
	} {
		if _, err := LoadMigrations(fsys); err == nil {
			t.Errorf("LoadMigrations %s: no error", name)
		}
	}
}

func TestCheckKnown(t *testing.T) {
	migs := []Migration{{Version: 1}, {Version: 2}, {Version: 5}}
	for _, tc := range []struct {
		name    string
		applied []int
		want    string // "" for no error
	}{
		{"none applied", nil, ""},
		{"some applied", []int{1, 2}, ""},
		{"all applied", []int{1, 2, 5}, ""},
		{"newer", []int{1, 2, 5, 7}, "database schema version 7 is newer than this ladder supports (5); upgrade ladder"},
		{"in a gap", []int{1, 2, 3, 5}, "database schema has migration 3, which this ladder does not know; upgrade ladder"},
		{"a gap and newer", []int{1, 3, 9}, "database schema version 9 is newer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			applied := map[int]bool{}
			for _, v := range tc.applied {
				applied[v] = true
			}
			err := CheckKnown(applied, migs)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("CheckKnown: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("CheckKnown: %v, want %q", err, tc.want)
			}
		})
	}
}
