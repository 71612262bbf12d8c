package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
)

// Down implements target.Target: it removes the project's containers and
// networks, and its named volumes only when asked.
func (t *Target) Down(ctx context.Context, site render.SiteRef, opts target.DownOptions) error {
	project := t.Project(site)
	t.forgetInspections()
	defer t.forgetInspections()
	cs, err := t.containers(ctx, site)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.remove(ctx, c.ID, render.DefaultStopGrace)
		}()
	}
	wg.Wait()
	t.mu.Lock()
	for name := range t.adopted {
		if strings.HasPrefix(name, project+"-") {
			delete(t.adopted, name)
		}
	}
	t.mu.Unlock()
	var errs []error
	nets, err := t.opts.Engine.NetworkList(ctx, network.ListOptions{Filters: projectFilter(project)})
	if err != nil {
		return t.engineErr(err)
	}
	for _, n := range nets {
		if err := t.opts.Engine.NetworkRemove(ctx, n.ID); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n.Name, err))
		}
	}
	if f := t.ComposeFilePath(site); f != "" {
		_ = os.Remove(f)
	}
	if opts.Volumes {
		vols, err := t.volumes(ctx, project)
		if err != nil {
			return err
		}
		for _, v := range vols {
			if err := t.opts.Engine.VolumeRemove(ctx, v, true); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("removing volume %s: %w", v, err))
			}
		}
	}
	return errors.Join(errs...)
}

// VolumeLister is implemented by engines that can list volumes.
type VolumeLister interface {
	VolumeList(ctx context.Context, options volume.ListOptions) (volume.ListResponse, error)
}

func (t *Target) volumes(ctx context.Context, project string) ([]string, error) {
	vl, ok := t.opts.Engine.(VolumeLister)
	if !ok {
		return nil, nil
	}
	resp, err := vl.VolumeList(ctx, volume.ListOptions{Filters: projectFilter(project)})
	if err != nil {
		return nil, t.engineErr(err)
	}
	var out []string
	for _, v := range resp.Volumes {
		out = append(out, v.Name)
	}
	return out, nil
}

// Logs implements target.Target with the engine's container logs.
func (t *Target) Logs(ctx context.Context, site render.SiteRef, service string, opts target.LogOptions, w io.Writer) error {
	cs, err := t.containers(ctx, site)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	found := false
	for _, c := range cs {
		svc := c.Labels[drift.LabelService]
		if service != "" && svc != service {
			continue
		}
		found = true
		lo := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow}
		if opts.Tail > 0 {
			lo.Tail = strconv.Itoa(opts.Tail)
		}
		rc, err := t.opts.Engine.ContainerLogs(ctx, c.ID, lo)
		if err != nil {
			return t.engineErr(err)
		}
		pw := &prefixWriter{w: w, mu: &mu, prefix: fmt.Sprintf("%s %s | ", svc, c.Labels[drift.LabelSlot])}
		copyLogs := func() {
			defer rc.Close()
			_, _ = stdcopy.StdCopy(pw, pw, rc)
			pw.flush()
		}
		if opts.Follow {
			wg.Add(1)
			go func() { defer wg.Done(); copyLogs() }()
		} else {
			copyLogs()
		}
	}
	wg.Wait()
	if !found {
		return fmt.Errorf("no containers for %s on %s", orAll(service), site)
	}
	return nil
}

func orAll(s string) string {
	if s == "" {
		return "any service"
	}
	return s
}

// prefixWriter writes whole lines, each with a prefix.
type prefixWriter struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			break
		}
		p.mu.Lock()
		_, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.mu.Unlock()
		if err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		p.mu.Lock()
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.mu.Unlock()
		p.buf = nil
	}
}
