package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/lease"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

// enginesOf lists the PIDs of the ladder engines (`ladder serve`, in the
// background or not) of the project.
func (p *project) enginesOf() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		if len(args) < 2 || args[0] != ladderBin || args[1] != "serve" {
			continue
		}
		if i := slices.Index(args, "-C"); i < 0 || i+1 >= len(args) || args[i+1] != p.dir {
			continue
		}
		// A zombie left for its parent to reap runs nothing.
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if i := bytes.LastIndexByte(st, ')'); i > 0 && len(st) > i+2 && st[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// Two cold `ladder up -d` in one directory: one engine, one set of
// services; each command either deploys through that agent or is refused
// as busy (exit 7) naming the other.
func TestConcurrentColdUpsLeaveOneEngine(t *testing.T) {
	p := newProject(t)
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Go(func() { results[i] = p.run("up", "-d", "--dashboard", "127.0.0.1:0") })
	}
	wg.Wait()
	ok := 0
	for i, res := range results {
		switch res.code {
		case 0:
			ok++
		case 7:
			if !strings.Contains(res.stderr, "busy") || !strings.Contains(res.stderr, "pid ") {
				t.Errorf("up %d refused without naming the holder:\n%s", i, res)
			}
		default:
			t.Errorf("up %d: %s", i, res)
		}
	}
	if ok == 0 {
		t.Fatalf("neither up succeeded:\n%s\n%s", results[0], results[1])
	}
	if engines := p.enginesOf(); len(engines) != 1 {
		t.Errorf("engines running: %v, want exactly one", engines)
	}
	// The demo's four services, one instance each.
	if left := p.leftovers(); len(left) != 4 {
		t.Errorf("service instances running: %v, want 4", left)
	}
	// A third up finds the agent.
	if res := p.run("up", "-d"); res.code != 0 || !strings.Contains(res.stdout, "nothing to change") {
		t.Errorf("third up: %s", res)
	}
	if engines := p.enginesOf(); len(engines) != 1 {
		t.Errorf("engines after a third up: %v, want exactly one", engines)
	}
}

// holdLease takes name in the project's store as another ladder process
// would (a rollback under way), renewing it until the test releases it.
func holdLease(t *testing.T, p *project, name string) *lease.Held {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(p.dir, ".ladder", "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := store.Holder{Host: "elsewhere", PID: 424242, Instance: "rollback"}
	held, err := lease.Acquire(t.Context(), st, name, h, lease.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(held.Release)
	return held
}

// While another process rolls local back (it holds local's lease), `up`
// waits a few seconds, then is refused as busy naming it; it does not
// replace what the rollback put there. A rollback meanwhile is refused the
// same way.
func TestUpDuringRollbackIsRefused(t *testing.T) {
	p := newProject(t)
	first := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	compose, _ := os.ReadFile(filepath.Join(p.dir, "compose.yaml"))
	p.write("compose.yaml", strings.Replace(string(compose), "      USERS_URL: http://users:8080\n", "      USERS_URL: http://users:8080\n      FAULT_NOTE: second\n", 1))

	held := holdLease(t, p, "env/local")
	began := time.Now()
	res := p.run("up", "-d")
	if res.code != 7 || !strings.Contains(res.stderr, "local is busy") || !strings.Contains(res.stderr, "pid 424242 on elsewhere") {
		t.Fatalf("up while local's lease is held: want exit 7 naming the holder, got %s", res)
	}
	if waited := time.Since(began); waited < lease.Wait {
		t.Errorf("up was refused after %s, want a wait of %s first", waited, lease.Wait)
	}
	if res := p.run("rollback", "local"); res.code != 7 {
		t.Errorf("rollback while local's lease is held: want exit 7, got %s", res)
	}
	st, _ := p.status()
	if len(st.Sites) != 1 || st.Sites[0].Snapshot != first.Snapshot.ID {
		t.Errorf("local runs %+v after the refused up, want still %s", st.Sites, first.Snapshot.ID)
	}
	held.Release()
	second := p.upJSON("-d")
	if second.Snapshot.ID == first.Snapshot.ID || second.Deploy.Number != 2 {
		t.Errorf("up once the lease is free: snapshot %s release number %d, want a new snapshot as release 2", second.Snapshot.ID, second.Deploy.Number)
	}
}

// `ladder down --all` stops every rung; each rung numbers its own releases.
func TestDownAllStopsEveryRungAndReleasesAreNumberedPerRung(t *testing.T) {
	p := newLadderProject(t)
	p.write("ladder.yaml", twoRungs(""))
	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	if up.Deploy.Number != 1 {
		t.Errorf("first local release number %d, want 1", up.Deploy.Number)
	}
	res := p.run("promote", up.Snapshot.ID, "--to", "dev", "-o", "json")
	if res.code != 0 {
		t.Fatalf("promote: %s", res)
	}
	compose, _ := os.ReadFile(filepath.Join(p.dir, "compose.yaml"))
	p.write("compose.yaml", strings.Replace(string(compose), "      USERS_URL: http://users:8080\n", "      USERS_URL: http://users:8080\n      FAULT_NOTE: second\n", 1))
	res = p.run("up", "-d")
	if res.code != 0 || !strings.Contains(res.stdout, "release 2: local/") {
		t.Errorf("second up does not say release 2 of local:\n%s", res)
	}
	numbers := func(env string) []int64 {
		var out []int64
		for _, r := range p.releases(env) {
			out = append(out, r.Number)
		}
		return out
	}
	if got := fmt.Sprint(numbers("local")); got != "[2 1]" {
		t.Errorf("local's release numbers %s, want [2 1]", got)
	}
	if got := fmt.Sprint(numbers("dev")); got != "[1]" {
		t.Errorf("dev's release numbers %s, want [1]", got)
	}

	res = p.run("down", "--all")
	if res.code != 0 || !strings.Contains(res.stdout, "local stopped") || !strings.Contains(res.stdout, "dev stopped") {
		t.Fatalf("down --all: %s", res)
	}
	for _, env := range []string{"local", "dev"} {
		if res := p.run("status", "--env", env); res.code != 4 {
			t.Errorf("status --env %s after down --all exited %d, want 4\n%s", env, res.code, res)
		}
	}
	// The background engine ends with its last environment.
	eventually(t, 10*time.Second, "no engine left after down --all", func() (bool, string) {
		engines := p.enginesOf()
		return len(engines) == 0, fmt.Sprint(engines)
	})
	if left := p.leftovers(); len(left) != 0 {
		t.Errorf("instances after down --all: %v", left)
	}
}

// Ctrl-C of a foreground `ladder up` stops the rungs auto-promoted from
// it (by a later `ladder up` while it ran), and says so.
func TestCtrlCStopsAutoPromotedRungs(t *testing.T) {
	p := newLadderProject(t)
	p.write("ladder.yaml", strings.Replace(twoRungs(""), "    from: local\n", "    from: local\n    autoPromote: true\n", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := p.command(ctx, "up", "--dashboard", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		out strings.Builder
	)
	ready := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "press Ctrl-C") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(2 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("foreground up never came up:\n%s\n%s", out.String(), stderr.String())
	}
	// A second up while it runs auto-promotes to dev.
	res := p.run("up")
	if res.code != 0 || !strings.Contains(res.stdout, "auto-promoted") {
		t.Fatalf("second up did not auto-promote to dev: %s", res)
	}
	if res := p.run("status", "--env", "dev"); res.code != 0 {
		t.Fatalf("dev not running after auto-promotion: %s", res)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-copied
	_ = cmd.Wait()
	mu.Lock()
	text := out.String()
	mu.Unlock()
	if !strings.Contains(text, "stopped dev too (auto-promoted from local)") {
		t.Errorf("Ctrl-C output does not say dev was stopped:\n%s\n%s", text, stderr.String())
	}
	if res := p.run("status", "--env", "dev"); res.code != 4 {
		t.Errorf("status --env dev after Ctrl-C exited %d, want 4\n%s", res.code, res)
	}
	eventually(t, 10*time.Second, "no engine left after Ctrl-C", func() (bool, string) {
		engines := p.enginesOf()
		return len(engines) == 0, fmt.Sprint(engines)
	})
	eventually(t, 10*time.Second, "no instance left after Ctrl-C", func() (bool, string) {
		left := p.leftovers()
		return len(left) == 0, fmt.Sprint(left)
	})
}
