package process_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/target/process"
)

// shTarget runs services as host shell commands (the rootfs is an empty
// directory, so /bin/sh resolves on the host).
func shTarget(t *testing.T, rate int64) (*process.Target, string) {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	rootfs := t.TempDir()
	tgt := process.New(process.Options{
		StateDir: state,
		LogRate:  rate,
		Rootfs:   func(context.Context, string) (string, error) { return rootfs, nil },
	})
	return tgt, state
}

var logSite = render.SiteRef{Env: "logs", Site: "main"}

// runSh deploys one service running script and returns when it runs.
func runSh(t *testing.T, tgt *process.Target, script string, limits *render.LogLimits) {
	t.Helper()
	svc := render.Service{
		Name: "noisy", Digest: "sha256:" + strings.Repeat("a", 64),
		Entrypoint: []string{"/bin/sh", "-c", script}, Replicas: 1, Restart: "no",
		StopGrace: time.Second, Logs: limits, Environment: map[string]string{"PATH": "/usr/bin:/bin"},
	}
	svc.Config = render.ConfigHash(svc)
	d := &render.Desired{SiteRef: logSite, Stack: "logs", Snapshot: "s1", Services: []render.Service{svc}}
	ctx := context.Background()
	obs, err := tgt.Observe(ctx, logSite)
	if err != nil {
		t.Fatal(err)
	}
	if err := tgt.Apply(ctx, d, plan.Compute(d, obs), target.ApplyOptions{HealthTimeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tgt.Down(context.Background(), logSite, target.DownOptions{}) })
}

func logDir(state string) string { return filepath.Join(state, "logs", logSite.Env, logSite.Site) }

// A service printing as fast as it can keeps its log files under the cap:
// rotated at max-size, at most max-file of them.
func TestFloodingServiceStaysUnderTheLogCap(t *testing.T) {
	tgt, state := shTarget(t, 1<<30) // no rate limit: rotation alone holds it
	const maxSize = 256 << 10
	runSh(t, tgt, "yes 'a line of output from a service that floods its log, over and over again'", &render.LogLimits{MaxSize: maxSize, MaxFiles: 3})
	time.Sleep(2 * time.Second)
	// While it floods, --tail reads the last lines as the log was when it
	// began, not what was written meanwhile.
	for range 5 {
		var out bytes.Buffer
		if err := process.ReadLogs(context.Background(), state, logSite, "noisy", target.LogOptions{Tail: 100}, &out); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(out.String(), "\n"); n != 100 {
			t.Errorf("tail 100 of a log being written gave %d lines", n)
		}
	}
	_ = tgt.Down(context.Background(), logSite, target.DownOptions{})

	entries, err := os.ReadDir(logDir(state))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var total int64
	for _, e := range entries {
		fi, _ := e.Info()
		names = append(names, fmt.Sprintf("%s=%d", e.Name(), fi.Size()))
		total += fi.Size()
		if fi.Size() > maxSize {
			t.Errorf("%s is %d bytes, over max-size %d", e.Name(), fi.Size(), maxSize)
		}
	}
	if len(entries) != 3 {
		t.Errorf("log files %v, want noisy.log, .1 and .2", names)
	}
	if total < 2*maxSize {
		t.Errorf("only %d bytes logged in all (%v): the flood did not reach rotation", total, names)
	}
	// Every kept record is whole.
	var out bytes.Buffer
	if err := process.ReadLogs(context.Background(), state, logSite, "noisy", target.LogOptions{Tail: 5}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("tail 5 gave %d lines:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, "| a line of output from a service that floods its log, over and over again") {
			t.Errorf("torn record %q", l)
		}
	}
}

// Over the rate, output is read no faster than the rate: the service
// waits on its pipe, and nothing is lost.
func TestOutputOverTheRateIsThrottledNotLost(t *testing.T) {
	const rate = 64 << 10
	tgt, state := shTarget(t, rate)
	runSh(t, tgt, "exec seq 1 1000000000", nil)
	begun := time.Now()
	time.Sleep(1500 * time.Millisecond)
	_ = tgt.Down(context.Background(), logSite, target.DownOptions{})
	took := time.Since(begun)
	var out bytes.Buffer
	if err := process.ReadLogs(context.Background(), state, logSite, "noisy", target.LogOptions{}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	var read int
	for i, l := range lines {
		_, text, _ := strings.Cut(l, "| ")
		// The last may be cut where the process was killed.
		if want := fmt.Sprint(i + 1); text != want && (i < len(lines)-1 || !strings.HasPrefix(want, text)) {
			t.Fatalf("record %d is %q, want %d: output was lost", i, l, i+1)
		}
		read += len(text) + 1
	}
	// The burst (two seconds' worth), the rate for the time it ran, one
	// read of slack, and what the pipe held at the end.
	if limit := 2*rate + int(took.Seconds()*rate) + 2*(64<<10); read > limit {
		t.Errorf("%d bytes of output captured in %s at %d B/s, over %d", read, took, rate, limit)
	}
	if read < rate {
		t.Errorf("only %d bytes captured", read)
	}
}

// A line of 2 MiB is split into records and capture goes on after it.
func TestLongLineDoesNotEndCapture(t *testing.T) {
	tgt, state := shTarget(t, 0)
	runSh(t, tgt, `head -c 2097152 /dev/zero | tr '\0' x; echo; echo after-the-long-line; exec sleep 30`, nil)
	var out bytes.Buffer
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out.Reset()
		_ = process.ReadLogs(context.Background(), state, logSite, "noisy", target.LogOptions{}, &out)
		if strings.Contains(out.String(), "after-the-long-line") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "noisy 1-") || !strings.Contains(out.String(), "| after-the-long-line\n") {
		t.Fatalf("the line after a 2 MiB line was not captured (%d bytes of logs)", out.Len())
	}
	if n := strings.Count(out.String(), "x"); n != 2<<20 {
		t.Errorf("%d x's captured, want %d", n, 2<<20)
	}
}

// writeLog writes n records of about 100 bytes to path.
func writeLog(t *testing.T, path string, from, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "2026-01-01T00:00:00.000000000Z 1-abc line %09d %s\n", i, strings.Repeat("p", 50))
		if b.Len() > 1<<20 {
			f.Write(b.Bytes())
			b.Reset()
		}
	}
	f.Write(b.Bytes())
}

// --tail reads from the end: a 200 MB log costs what its last lines cost,
// and the last lines span the rotated file and the current one in order.
func TestTailReadsFromTheEndAcrossRotatedFiles(t *testing.T) {
	state := t.TempDir()
	path := filepath.Join(logDir(state), "big.log")
	writeLog(t, path+".1", 0, 2_000_000) // about 200 MB
	writeLog(t, path, 2_000_000, 3)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	begun := time.Now()
	var out bytes.Buffer
	if err := process.ReadLogs(context.Background(), state, logSite, "big", target.LogOptions{Tail: 5}, &out); err != nil {
		t.Fatal(err)
	}
	took := time.Since(begun)
	runtime.ReadMemStats(&after)

	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		f := strings.Fields(l)
		got = append(got, f[4])
	}
	want := []string{"001999998", "001999999", "002000000", "002000001", "002000002"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("tail 5 gave %v, want %v", got, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("tail 5 of a 200 MB log allocated %d bytes", alloc)
	}
	if took > time.Second {
		t.Errorf("tail 5 of a 200 MB log took %s", took)
	}
}
