package process_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/target/process"
)

// The fields the process target applies: a CMD-SHELL healthcheck runs
// with /bin/sh -c in the service's own environment (as Docker runs it in
// the container's), stop_signal is what stops the process, and a host
// port range publishes on its first free port.
func TestProcessAppliesShellHealthStopSignalAndPortRange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	state := filepath.Join(t.TempDir(), "state")
	rootfs := t.TempDir()
	tgt := process.New(process.Options{
		StateDir: state,
		Rootfs:   func(context.Context, string) (string, error) { return rootfs, nil },
	})
	// The first port of the range is taken: the front takes the next.
	base := 0
	var taken net.Listener
	for p := 21000 + int(time.Now().UnixNano()%5000); p < 32000; p += 3 {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		if ok := free(p+1) && free(p+2); ok {
			base, taken = p, ln
			break
		}
		ln.Close()
	}
	if taken == nil {
		t.Fatal("no free ports")
	}
	defer taken.Close()

	mark := filepath.Join(t.TempDir(), "ready")
	script := `trap 'echo stopped-by-INT; exit 0' INT; trap 'echo stopped-by-TERM; exit 0' TERM; touch "$MARK"; while :; do sleep 0.05; done`
	svc := render.Service{
		Name: "api", Digest: "sha256:" + strings.Repeat("a", 64),
		Entrypoint: []string{"/bin/sh", "-c", script}, Replicas: 1, Restart: "no", StopGrace: 5 * time.Second,
		Environment: map[string]string{"MARK": mark, "WANT": "api-env"},
		Ports:       []render.Port{{Target: 80, Published: base, PublishedEnd: base + 2, Protocol: "tcp"}},
		Health: &render.Health{
			Command: []string{"/bin/sh", "-c", `test -f "$MARK" && test "$WANT" = api-env && test "$LADDER_SERVICE" = api`}, Shell: true,
			Interval: 200 * time.Millisecond, Timeout: time.Second, Retries: 3,
		},
		Runtime: &render.Runtime{StopSignal: "SIGINT"},
	}
	svc.Config = render.ConfigHash(svc)
	site := render.SiteRef{Env: "test", Site: fmt.Sprintf("f%d", time.Now().UnixNano()%100000)}
	d := &render.Desired{SiteRef: site, Stack: "fields", Snapshot: strings.Repeat("b", 64), Services: []render.Service{svc}}
	obs, err := tgt.Observe(ctx, site)
	if err != nil {
		t.Fatal(err)
	}
	if err := tgt.Apply(ctx, d, plan.Compute(d, obs), target.ApplyOptions{HealthTimeout: 20 * time.Second}); err != nil {
		t.Fatalf("Apply (the shell healthcheck must pass in the service's environment): %v", err)
	}
	eps := tgt.Endpoints(site)
	if len(eps) != 1 || eps[0].URL != fmt.Sprintf("http://127.0.0.1:%d", base+1) {
		t.Errorf("endpoints %+v, want the range's first free port %d", eps, base+1)
	}
	if err := tgt.Down(ctx, site, target.DownOptions{}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if err := tgt.Logs(ctx, site, "api", target.LogOptions{}, &logs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "stopped-by-INT") {
		t.Errorf("the process was not stopped by its stop_signal; output:\n%s", logs.String())
	}
}

func free(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
