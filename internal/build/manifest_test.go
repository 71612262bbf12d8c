package build

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// An unpacked image altered on disk is caught (CheckRootfs names what
// changed) and unpacked again before it runs, whatever was altered: a
// file's content, its mode, a file added, a file removed, or the manifest
// edited to agree with a replaced file.
func TestAlteredRootfsIsCaughtAndUnpackedAgain(t *testing.T) {
	h, digest, dir := unpackedTree(t)
	ctx := context.Background()
	if checked, err := h.CheckRootfs(ctx, digest); !checked || err != nil {
		t.Fatalf("fresh tree: checked %v, %v", checked, err)
	}
	app := filepath.Join(dir, "app")
	original, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	evil := []byte("#!/bin/sh\necho tampered\n")

	for _, c := range []struct {
		name   string
		alter  func(t *testing.T)
		report string
	}{
		{"replaced binary", func(t *testing.T) { replaceFile(t, app, evil, 0o755) }, "/app: content changed"},
		{"same size", func(t *testing.T) {
			b := append([]byte(nil), original...)
			b[len(b)/2] ^= 0xff
			replaceFile(t, app, b, 0o755)
		}, "/app: content changed (sha256"},
		{"mode", func(t *testing.T) { os.Chmod(app, 0o777) }, "/app: mode 777, want 755"},
		{"added", func(t *testing.T) { replaceFile(t, filepath.Join(dir, "helper"), evil, 0o755) }, "/helper: not in the image"},
		{"removed", func(t *testing.T) { os.Remove(app) }, "/app: missing"},
		{"manifest edited to match", func(t *testing.T) {
			replaceFile(t, app, evil, 0o755)
			mp := manifestPath(dir)
			b, _ := os.ReadFile(mp)
			want, _ := h.memo.manifests.Load(digest)
			var e manifestEntry
			for _, x := range want.(*rootfsManifest).Entries {
				if x.Path == "app" {
					e = x
				}
			}
			sum, _ := fileSHA256(app)
			s := strings.Replace(string(b), e.SHA256, sum, 1)
			os.WriteFile(mp, []byte(s), 0o644)
		}, "manifest.json was altered"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.alter(t)
			checked, err := h.CheckRootfs(ctx, digest)
			var altered *RootfsAlteredError
			if !checked || !errors.As(err, &altered) {
				t.Fatalf("CheckRootfs after %s: checked %v, %v", c.name, checked, err)
			}
			if !strings.Contains(err.Error(), c.report) || !strings.Contains(err.Error(), dir) {
				t.Errorf("the error does not say %q:\n%v", c.report, err)
			}
			// The next run unpacks it again: the image's bytes run.
			again, _, err := h.Rootfs(ctx, digest)
			if err != nil || again != dir {
				t.Fatalf("Rootfs after %s: %s, %v", c.name, again, err)
			}
			if checked, err := h.CheckRootfs(ctx, digest); !checked || err != nil {
				t.Fatalf("after unpacking again: %v", err)
			}
			out, err := exec.Command(app, "-name=ladder").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "hello, ladder from api") {
				t.Fatalf("running app after %s: %v\n%s", c.name, err, out)
			}
		})
	}
	// Nothing is left of the altered trees.
	entries, _ := os.ReadDir(filepath.Join(h.dir, "rootfs"))
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("rootfs holds %v, want the tree and its manifest", names)
	}
}

func replaceFile(t *testing.T, p string, b []byte, mode os.FileMode) {
	t.Helper()
	tmp := p + ".new"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}
