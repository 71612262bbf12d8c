package build

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A seal sees every way an unprivileged user can change a tree: content
// written in place at the same size, a file replaced or renamed over, a
// mode changed, an entry added or removed, the manifest rewritten as it
// was. Rootfs then hashes the tree, and unpacks it again where what runs
// changed.
func TestSealSeesEveryChange(t *testing.T) {
	h, digest, dir := unpackedTree(t)
	ctx := context.Background()
	app := filepath.Join(dir, "app")
	original, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		alter func(t *testing.T)
	}{
		{"written in place at the same size", func(t *testing.T) {
			f, err := os.OpenFile(app, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := []byte{original[len(original)/2] ^ 0xff}
			if _, err := f.WriteAt(b, int64(len(original)/2)); err != nil {
				t.Fatal(err)
			}
		}},
		{"the same bytes written back", func(t *testing.T) {
			if err := os.WriteFile(app, original, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"renamed over", func(t *testing.T) { replaceFile(t, app, original, 0o755) }},
		{"mode", func(t *testing.T) { os.Chmod(app, 0o777) }},
		{"added", func(t *testing.T) { replaceFile(t, filepath.Join(dir, "helper"), original[:16], 0o755) }},
		{"removed", func(t *testing.T) { os.Remove(app) }},
		{"manifest rewritten as it was", func(t *testing.T) {
			b, err := os.ReadFile(manifestPath(dir))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(manifestPath(dir), b, 0o644)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.memo.rootfsMu.Lock()
			seal, ok := h.memo.sealed(digest)
			h.memo.rootfsMu.Unlock()
			if !ok {
				t.Fatal("the tree is not sealed")
			}
			if err := seal.check(dir); err != nil {
				t.Fatalf("the untouched tree fails its seal: %v", err)
			}
			// Past a tick of the clock that stamps change times.
			time.Sleep(20 * time.Millisecond)
			c.alter(t)
			if err := seal.check(dir); err == nil {
				t.Fatalf("the seal did not see the tree %s", c.name)
			}
			again, _, err := h.Rootfs(ctx, digest)
			if err != nil || again != dir {
				t.Fatalf("Rootfs: %s, %v", again, err)
			}
			if checked, err := h.CheckRootfs(ctx, digest); !checked || err != nil {
				t.Fatalf("after Rootfs the tree is not the image's: %v", err)
			}
			got, err := os.ReadFile(app)
			if err != nil || string(got) != string(original) {
				t.Fatalf("app after Rootfs is not the image's (%v)", err)
			}
			// Hashed (or unpacked again), the tree is sealed anew.
			h.memo.rootfsMu.Lock()
			_, ok = h.memo.sealed(digest)
			h.memo.rootfsMu.Unlock()
			if !ok {
				t.Fatal("the tree was not sealed again")
			}
		})
	}
}

// A tree this process did not write is hashed before it is trusted, then
// sealed; the seals of one Memo stay within maxSealed entries.
func TestSealsOfTreesFoundOnDiskAndTheirBound(t *testing.T) {
	h, digest, dir := unpackedTree(t)
	ctx := context.Background()
	// A new process (a Memo of its own) finds the tree altered on disk.
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte("#!/bin/sh\necho altered\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	fresh := NewMemo()
	b := New(Options{Store: h.store, Dir: h.dir, Memo: fresh})
	if _, _, err := b.Rootfs(ctx, digest); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "app")); strings.Contains(string(got), "altered") {
		t.Fatal("a tree found altered on disk was trusted")
	}
	fresh.rootfsMu.Lock()
	_, ok := fresh.sealed(digest)
	fresh.rootfsMu.Unlock()
	if !ok {
		t.Fatal("the tree was not sealed once hashed")
	}

	m := NewMemo()
	big := treeSeal{}
	for i := range maxSealed / 2 {
		big[strconv.Itoa(i)] = entrySeal{}
	}
	m.putSeal("sha256:1", big)
	m.putSeal("sha256:2", big)
	m.putSeal("sha256:3", big)
	if _, ok := m.sealed("sha256:1"); ok || m.sealedEntries > maxSealed {
		t.Fatalf("seals hold %d entries (bound %d), the oldest kept: %v", m.sealedEntries, maxSealed, ok)
	}
	if _, ok := m.sealed("sha256:3"); !ok {
		t.Fatal("the newest seal was dropped")
	}
	m.putSeal("sha256:3", treeSeal{"a": {}})
	if m.sealedEntries != len(big)+1 || len(m.sealOrder) != 2 {
		t.Fatalf("replacing a seal: %d entries, order %v", m.sealedEntries, m.sealOrder)
	}
}
