package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/target"
)

// printer writes progress lines; safe for concurrent use because builds
// and service starts report from several goroutines.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
	// shown remembers the pull and push progress lines printed, so that
	// byte-level updates print once per layer.
	shown map[string]bool
}

func (p *printer) printf(format string, args ...any) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

func (p *printer) build(ev build.Progress) {
	switch ev.State {
	case "building":
		p.printf("  • %-16s building\n", ev.Service)
	case "cached":
		if ev.Image != "" {
			p.printf("  ✓ %-16s pinned     %s  %s\n", ev.Service, snapshot.Short(ev.Digest), ev.Image)
			return
		}
		p.printf("  ✓ %-16s unchanged  %s\n", ev.Service, snapshot.Short(ev.Digest))
	case "built":
		p.printf("  ✓ %-16s built in %s (%s)  %s\n", ev.Service, round(ev.Duration), bytesHuman(ev.Size), snapshot.Short(ev.Digest))
	case "failed":
		if ev.Image != "" {
			p.printf("  ✗ %-16s %s failed\n", ev.Service, ev.Image)
			return
		}
		p.printf("  ✗ %-16s build failed\n", ev.Service)
	case build.StatePulling:
		p.pullProgress(ev, "pulling", "from the "+ev.Source)
	case build.StatePulled:
		p.printf("  ✓ %-16s pulled %s from the %s in %s (%s)  %s\n", ev.Service, ev.Image, ev.Source, round(ev.Duration), bytesHuman(ev.Size), snapshot.Short(ev.Digest))
	case build.StatePushing:
		p.pullProgress(ev, "pushing", "")
	case build.StatePushed:
		p.printf("  ✓ %-16s pushed %s (%s)\n", ev.Service, snapshot.Short(ev.Digest), bytesHuman(ev.Size))
	case build.StateNotice:
		p.printf("  ! %s\n", ev.Detail)
	}
}

// pullProgress prints a pull or push as it goes: one line when it starts
// and one per layer after that, never a line per chunk.
func (p *printer) pullProgress(ev build.Progress, verb, from string) {
	key := fmt.Sprintf("%s %s %d", ev.Service, verb, ev.Layers)
	p.mu.Lock()
	if p.shown == nil {
		p.shown = map[string]bool{}
	}
	seen := p.shown[key]
	p.shown[key] = true
	p.mu.Unlock()
	if seen {
		return
	}
	if verb == "pushing" && ev.Bytes > 0 {
		p.printf("  • %-16s pushing %s to %s\n", ev.Service, ev.Image, ev.Source)
		return
	}
	switch {
	case ev.LayersTotal == 0 && ev.BytesTotal == 0:
		p.printf("  • %-16s %s %s %s\n", ev.Service, verb, ev.Image, from)
	case ev.BytesTotal > 0 && ev.LayersTotal > 0:
		p.printf("  • %-16s %s layer %d/%d  %s of %s\n", ev.Service, verb, ev.Layers, ev.LayersTotal, bytesHuman(ev.Bytes), bytesHuman(ev.BytesTotal))
	case ev.LayersTotal > 0:
		p.printf("  • %-16s %s layer %d/%d  %s\n", ev.Service, verb, ev.Layers, ev.LayersTotal, bytesHuman(ev.Bytes))
	default:
		p.printf("  • %-16s %s %s of %s\n", ev.Service, verb, bytesHuman(ev.Bytes), bytesHuman(ev.BytesTotal))
	}
}

func (p *printer) deploy(ev target.Progress) {
	mark := map[string]string{"starting": "•", "failed": "✗", "stopped": "-", "routed": "→", "loading": "•", "pulling": "•"}[ev.Step]
	if mark == "" {
		mark = "✓"
	}
	line := fmt.Sprintf("  %s %-16s %s", mark, ev.Service, ev.Step)
	if ev.Slot != "" {
		line = fmt.Sprintf("  %s %-16s %-9s %s", mark, ev.Service, ev.Step, ev.Slot)
	}
	if ev.Elapsed > 0 {
		line += " in " + round(ev.Elapsed).String()
	}
	if ev.Detail != "" {
		line += ": " + ev.Detail
	}
	p.printf("%s\n", line)
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func bytesHuman(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// printStatus writes an environment's status as a table.
func printStatus(w io.Writer, st *api.Status) {
	for _, site := range st.Sites {
		snap := "nothing deployed"
		if site.Snapshot != "" {
			snap = "snapshot " + snapshot.Short(site.Snapshot)
		}
		// Each site says its own kind and engine: the sites of one
		// environment may run on different ones.
		kind, on := st.Target, ""
		if r := site.Release; r != nil && r.Target != "" {
			kind = r.Target
		}
		if e := site.Runtime["engine"]; e != "" && (kind == "compose" || site.Runtime["project"] != "") {
			on = " on " + e
		}
		fmt.Fprintf(w, "%s/%s (%s target%s) runs %s\n", st.Environment, site.Site, kind, on, snap)
		if hint := site.Runtime["hint"]; hint != "" {
			fmt.Fprintf(w, "  compose project %s: %s\n", site.Runtime["project"], hint)
		}
		if site.Drift != nil {
			fmt.Fprintf(w, "  drift: %d service(s) differ from the release (ladder drift shows how; ladder up repairs)\n", len(site.Drift.Services))
		}
		if r := site.Release; r != nil && r.Phase != "succeeded" {
			fmt.Fprintf(w, "  latest release %d (snapshot %s) %s: %s\n", r.ID, snapshot.Short(r.Snapshot), r.Phase, r.Reason)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		// RUNS (native or engine) shows on a site that mixes both.
		runs := false
		for _, svc := range site.Services {
			runs = runs || svc.Runs != ""
		}
		if runs {
			fmt.Fprintln(tw, "  SERVICE\tRUNS\tHEALTH\tINSTANCES\tREQ/S\tERRORS\tP95\tURL")
		} else {
			fmt.Fprintln(tw, "  SERVICE\tHEALTH\tINSTANCES\tREQ/S\tERRORS\tP95\tURL")
		}
		for _, svc := range site.Services {
			rps, errs, p95 := "-", "-", "-"
			if t := svc.Telemetry; t != nil {
				rps = fmt.Sprintf("%.1f", t.RequestRate)
				errs = fmt.Sprintf("%.1f%%", t.ErrorRate*100)
				p95 = fmt.Sprintf("%.0fms", t.P95*1000)
			}
			restarts := 0
			for _, in := range svc.Instances {
				restarts += in.Restarts
			}
			inst := fmt.Sprint(len(svc.Instances))
			if restarts > 0 {
				inst += fmt.Sprintf(" (%d restarts)", restarts)
			}
			if runs {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", svc.Name, orDash(svc.Runs), svc.Health, inst, rps, errs, p95, strings.Join(svc.Endpoints, " "))
				continue
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", svc.Name, svc.Health, inst, rps, errs, p95, strings.Join(svc.Endpoints, " "))
		}
		tw.Flush()
	}
	if st.Agent.URL != "" {
		fmt.Fprintf(w, "dashboard: %s\n", st.Agent.URL)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
