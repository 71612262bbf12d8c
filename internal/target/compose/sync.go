package compose

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

var _ target.Syncer = (*Target)(nil)

// running returns the IDs of service's running containers on site. The
// engine filters them, so a sync asks for a few containers, not the
// project's all: it is on the path from a save to the file in place.
func (t *Target) running(ctx context.Context, site render.SiteRef, service string) ([]string, error) {
	f := projectFilter(t.Project(site))
	f.Add("label", drift.LabelService+"="+service)
	f.Add("status", "running")
	cs, err := t.opts.Engine.ContainerList(ctx, container.ListOptions{Filters: f})
	if err != nil {
		return nil, t.engineErr(err)
	}
	var ids []string
	for _, c := range cs {
		if c.Labels[labelOneoff] != "True" && c.Labels[drift.LabelSlot] != "" {
			ids = append(ids, c.ID)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("service %s has no running container on %s/%s", service, site.Env, site.Site)
	}
	return ids, nil
}

// Sync implements target.Syncer: one tar archive of the files, extracted
// at / by the engine (as `docker cp` does), and `rm -rf` in the container
// for the files gone.
func (t *Target) Sync(ctx context.Context, site render.SiteRef, service string, files []target.SyncFile) error {
	ids, err := t.running(ctx, site, service)
	if err != nil {
		return err
	}
	archive, gone, err := syncArchive(files)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if archive != nil {
			if err := t.opts.Engine.CopyToContainer(ctx, id, "/", bytes.NewReader(archive), container.CopyToContainerOptions{}); err != nil {
				return fmt.Errorf("service %s: copying into container %s: %w", service, shortID(id), t.engineErr(err))
			}
		}
		if len(gone) > 0 {
			if err := t.exec(ctx, id, append([]string{"rm", "-rf", "--"}, gone...)); err != nil {
				return fmt.Errorf("service %s: removing %s in container %s: %w", service, strings.Join(gone, " "), shortID(id), err)
			}
		}
	}
	return nil
}

// syncArchive returns a tar of the files that exist (their paths inside the
// container, relative to /) and the container paths of those that do not.
func syncArchive(files []target.SyncFile) ([]byte, []string, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var gone []string
	n := 0
	for _, f := range files {
		fi, err := os.Lstat(f.Src)
		if errors.Is(err, fs.ErrNotExist) {
			gone = append(gone, f.Dst)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if fi.IsDir() {
			continue // its files come as their own changes
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return nil, nil, err
		}
		hdr.Name = strings.TrimPrefix(f.Dst, "/")
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, nil, err
		}
		if fi.Mode().IsRegular() {
			src, err := os.Open(f.Src)
			if err != nil {
				return nil, nil, err
			}
			_, err = io.Copy(tw, src)
			src.Close()
			if err != nil {
				return nil, nil, err
			}
		}
		n++
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	if n == 0 {
		return nil, gone, nil
	}
	return buf.Bytes(), gone, nil
}

// exec runs argv in the container and waits (bounded) for it to end.
func (t *Target) exec(ctx context.Context, id string, argv []string) error {
	ex, err := t.opts.Engine.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: argv})
	if err != nil {
		return t.engineErr(err)
	}
	if err := t.opts.Engine.ContainerExecStart(ctx, ex.ID, container.ExecStartOptions{Detach: true}); err != nil {
		return t.engineErr(err)
	}
	for range 200 {
		st, err := t.opts.Engine.ContainerExecInspect(ctx, ex.ID)
		if err != nil {
			return t.engineErr(err)
		}
		if !st.Running {
			if st.ExitCode != 0 {
				return fmt.Errorf("%s exited with code %d", argv[0], st.ExitCode)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not end within 5s", argv[0])
}

// Restart implements target.Syncer.
func (t *Target) Restart(ctx context.Context, site render.SiteRef, service string) error {
	ids, err := t.running(ctx, site, service)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := t.opts.Engine.ContainerRestart(ctx, id, container.StopOptions{}); err != nil {
			return fmt.Errorf("service %s: restarting container %s: %w", service, shortID(id), t.engineErr(err))
		}
	}
	return nil
}
