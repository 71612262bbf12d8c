package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

var _ target.Syncer = (*Target)(nil)

// running returns service's running instances on site.
func (t *Target) running(ref render.SiteRef, service string) ([]*instance, error) {
	var out []*instance
	for _, in := range t.instancesOf(ref) {
		if st, _ := in.status(); in.svc.Name == service && st == plan.StateRunning {
			out = append(out, in)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("service %s has no running instance on %s/%s", service, ref.Env, ref.Site)
	}
	return out, nil
}

// Sync implements target.Syncer: the files are written into the unpacked
// image the instances run from. That tree no longer matches its digest,
// so the next start of the digest unpacks it afresh (see build.Rootfs):
// what a later release runs is still what the snapshot names.
func (t *Target) Sync(ctx context.Context, ref render.SiteRef, service string, files []target.SyncFile) error {
	ins, err := t.running(ref, service)
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, in := range ins {
		root := t.rootfsDir(in)
		if root == "" || done[root] {
			continue
		}
		done[root] = true
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := syncFile(root, f); err != nil {
				return fmt.Errorf("service %s: %w", service, err)
			}
		}
	}
	return nil
}

func syncFile(root string, f target.SyncFile) error {
	dst := filepath.Join(root, filepath.FromSlash(f.Dst))
	if rel, err := filepath.Rel(root, dst); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("%s is outside the instance's root", f.Dst)
	}
	fi, err := os.Stat(f.Src)
	if errors.Is(err, fs.ErrNotExist) {
		return os.RemoveAll(dst)
	}
	if err != nil || fi.IsDir() {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	src, err := os.Open(f.Src)
	if err != nil {
		return err
	}
	defer src.Close()
	// A new file renamed into place: a running process reading the old
	// one keeps a whole copy.
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".sync-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, src)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), fi.Mode().Perm())
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// Restart implements target.Syncer: the stop signal to each instance's
// process group, and its supervisor starts it again at once.
func (t *Target) Restart(_ context.Context, ref render.SiteRef, service string) error {
	ins, err := t.running(ref, service)
	if err != nil {
		return err
	}
	for _, in := range ins {
		in.mu.Lock()
		pid := in.pid
		in.restartNow = true
		in.mu.Unlock()
		if pid > 0 {
			_ = syscall.Kill(-pid, stopSignal(in.svc))
		}
	}
	return nil
}
