package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/snapshot"
)

// ladderYAML writes a ladder.yaml for the local environment with the given
// values overlay (YAML, indented under values:).
func ladderYAML(values string) string {
	return "stack: compose.yaml\nenvironments:\n  local:\n    target: process\n    telemetry:\n      interval: 1s\n    values:\n" + values
}

func TestMalformedConfigReportsEveryProblemWithPositions(t *testing.T) {
	p := newProject(t)
	p.write("compose.yaml", `name: trading
services:
  users:
    build: ./services/users
    prots: ["8080"]
  trades:
    build: ./services/trades
    ports: 8080
    depends_on: [users]
`)
	p.write("ladder.yaml", `environments:
  local:
    target: process
    helth:
      timeout: 5s
`)
	res := p.run("validate")
	if res.code != 2 {
		t.Fatalf("validate exited %d, want 2\n%s", res.code, res)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`compose\.yaml:5:5: services\.users\.prots: .*"prots".*did you mean "ports"`),
		regexp.MustCompile(`compose\.yaml:8:12: services\.trades\.ports: must be`),
		regexp.MustCompile(`ladder\.yaml:4:5: environments\.local\.helth: unknown field "helth" \(did you mean "health"\?\)`),
	} {
		if !want.MatchString(res.stderr) {
			t.Errorf("validate output lacks %s\n%s", want, res.stderr)
		}
	}
	res = p.run("validate", "-o", "json")
	var doc struct {
		Valid    bool `json:"valid"`
		Problems []struct {
			File      string
			Line, Col int
			Path      string
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil || res.code != 2 {
		t.Fatalf("validate -o json: %v\n%s", err, res)
	}
	if doc.Valid || len(doc.Problems) != 3 {
		t.Errorf("validate -o json: valid=%v with %d problems, want 3: %+v", doc.Valid, len(doc.Problems), doc.Problems)
	}
	// up refuses the same files before building or starting anything.
	res = p.run("up", "-d")
	if res.code != 2 || !strings.Contains(res.stderr, "ladder.yaml:4:5") {
		t.Errorf("up with bad config: %s", res)
	}
	if _, res := p.status(); res.code != 2 {
		t.Errorf("status with bad config exited %d, want 2", res.code)
	}
}

func TestPortAlreadyTaken(t *testing.T) {
	p := newProject(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.webPort))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	res := p.run("up", "-d", "--dashboard", "127.0.0.1:0")
	if res.code != 3 {
		t.Fatalf("up with the web port taken exited %d, want 3\n%s", res.code, res)
	}
	if want := fmt.Sprintf("port %d is already in use", p.webPort); !strings.Contains(res.stderr, want) {
		t.Errorf("error does not say %q:\n%s", want, res.stderr)
	}
	if left := p.leftovers(); len(left) > 0 {
		t.Errorf("instances left running after the refused release: %v", left)
	}
	if _, res := p.status(); res.code != 4 {
		t.Errorf("status after a refused first release exited %d, want 4 (nothing running)", res.code)
	}
}

func TestCrashOnStartShowsItsLastLines(t *testing.T) {
	p := newProject(t)
	p.write("ladder.yaml", ladderYAML("      services:\n        users:\n          environment:\n            FAULT_CRASH: start\n"))
	res := p.run("up", "-d", "--dashboard", "127.0.0.1:0", "--timeout", "20s")
	if res.code != 3 {
		t.Fatalf("up with a crashing service exited %d, want 3\n%s", res.code, res)
	}
	for _, want := range []string{"service users", "exited with code 1", "fault injection: crashing on start", "ladder logs"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, res.stderr)
		}
	}
	if left := p.leftovers(); len(left) > 0 {
		t.Errorf("instances left running after a failed first release: %v", left)
	}
	logs := p.run("logs", "users")
	if !strings.Contains(logs.stdout, "fault injection: crashing on start") {
		t.Errorf("ladder logs users lacks the crash:\n%s", logs)
	}
}

func TestHealthNeverPassingKeepsThePreviousRelease(t *testing.T) {
	p := newProject(t)
	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	before := instancePIDs(up.Status)

	p.write("ladder.yaml", ladderYAML("      services:\n        trades:\n          environment:\n            FAULT_HEALTH: fail\n"))
	begun := time.Now()
	res := p.run("up", "--timeout", "3s")
	if res.code != 3 {
		t.Fatalf("up with a never-healthy trades exited %d, want 3\n%s", res.code, res)
	}
	if took := time.Since(begun); took > 30*time.Second {
		t.Errorf("the failed up took %s; the 3s health timeout should bound it", took)
	}
	for _, want := range []string{"service trades", "not healthy after 3s", "HTTP 503"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, res.stderr)
		}
	}
	st, sres := p.status()
	if sres.code != 0 {
		t.Fatalf("status after the failed release: %s", sres)
	}
	site := st.Sites[0]
	if site.Snapshot != up.Snapshot.ID {
		t.Errorf("site runs %s, want the previous %s", snapshot.Short(site.Snapshot), snapshot.Short(up.Snapshot.ID))
	}
	if site.Release == nil || site.Release.Phase != "failed" {
		t.Errorf("latest release %+v, want it recorded failed", site.Release)
	}
	if after := instancePIDs(st); !maps(before, after) {
		t.Errorf("the failed release disturbed running instances: %v -> %v", before, after)
	}
	for _, name := range demoServices {
		if svc, _ := serviceOf(st, name); svc.Health != "healthy" || len(svc.Instances) != 1 {
			t.Errorf("%s after the failed release: %s with %d instances, want 1 healthy", name, svc.Health, len(svc.Instances))
		}
	}
	// The previous trades still answers.
	if code, _ := httpGet(t, endpoint(t, st, "trades")+"/api/quotes"); code != 200 {
		t.Errorf("trades answers HTTP %d after the failed release", code)
	}
}

// startUp starts a foreground `ladder up` and returns once it has begun
// starting services, with a function that waits for it to end.
func startUp(t *testing.T, p *project) (pid int, wait func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	cmd := p.command(ctx, "up", "--dashboard", "127.0.0.1:0", "--timeout", "2m")
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
	starting := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "starting") && strings.Contains(sc.Text(), "users") {
				once.Do(func() { close(starting) })
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case <-starting:
	case <-time.After(2 * time.Minute):
		t.Fatalf("up never began starting services:\n%s\n%s", out.String(), stderr.String())
	}
	// Give the instances a moment to be running.
	time.Sleep(500 * time.Millisecond)
	return cmd.Process.Pid, func() (int, string) {
		<-copied
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(interface{ ExitCode() int }); ok && err != nil {
			code = ee.ExitCode()
		}
		mu.Lock()
		defer mu.Unlock()
		return code, out.String() + stderr.String()
	}
}

func TestInterruptDuringStartUpTearsEverythingDown(t *testing.T) {
	p := newProject(t)
	// users never becomes healthy, so start-up is still under way when
	// the interrupt comes.
	p.write("ladder.yaml", ladderYAML("      services:\n        users:\n          environment:\n            FAULT_HEALTH: fail\n"))
	pid, wait := startUp(t, p)
	if len(p.leftovers()) == 0 {
		t.Fatal("no instance was started before the interrupt")
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code, out := wait()
	if code != 130 {
		t.Errorf("interrupted up exited %d, want 130\n%s", code, out)
	}
	if left := p.leftovers(); len(left) > 0 {
		t.Errorf("instances left running after Ctrl-C: %v", left)
	}
	if !strings.Contains(out, "interrupted") {
		t.Errorf("output does not say it was interrupted:\n%s", out)
	}
	if _, res := p.status(); res.code != 4 {
		t.Errorf("status after the interrupt exited %d, want 4", res.code)
	}
}

func TestKilledMidDeployIsRecoveredByTheNextCommand(t *testing.T) {
	p := newProject(t)
	p.write("ladder.yaml", ladderYAML("      services:\n        users:\n          environment:\n            FAULT_HEALTH: fail\n"))
	pid, wait := startUp(t, p)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wait()
	// The instances die with the process that supervised them.
	eventually(t, 10*time.Second, "instances gone after SIGKILL", func() (bool, string) {
		left := p.leftovers()
		return len(left) == 0, fmt.Sprint(left)
	})

	// The killed process's deploy lease lapses within 5s of its last
	// renewal; until then the release is (rightly) left alone, after
	// that the next command closes it.
	var res result
	eventually(t, 15*time.Second, "the interrupted release recovered", func() (bool, string) {
		_, res = p.status()
		return strings.Contains(res.stderr, "recovered: release 1"), res.String()
	})
	if res.code != 4 {
		t.Fatalf("status after SIGKILL exited %d, want 4 (not running)\n%s", res.code, res)
	}
	if !strings.Contains(res.stderr, "interrupted") || !strings.Contains(res.stderr, "local/") {
		t.Errorf("status did not report recovering the interrupted release:\n%s", res)
	}
	// The store is consistent: the release is closed as interrupted.
	snaps := p.run("snapshots", "-o", "json")
	var list []struct{ ID string }
	if err := json.Unmarshal([]byte(snaps.stdout), &list); err != nil || len(list) != 1 {
		t.Fatalf("snapshots: %v\n%s", err, snaps)
	}
	show := p.run("snapshot", "show", list[0].ID[:8], "-o", "json")
	var doc struct {
		Releases []struct{ Phase, Reason string } `json:"releases"`
	}
	if err := json.Unmarshal([]byte(show.stdout), &doc); err != nil {
		t.Fatalf("snapshot show: %v\n%s", err, show)
	}
	if len(doc.Releases) != 1 || doc.Releases[0].Phase != "interrupted" {
		t.Errorf("releases after SIGKILL: %+v, want one interrupted", doc.Releases)
	}
	// And the next up works.
	p.write("ladder.yaml", ladderYAML("      services: {}\n"))
	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	if up.Snapshot.ID != list[0].ID || up.Deploy.Release != 2 {
		t.Errorf("up after recovery: snapshot %s release %d, want %s release 2", snapshot.Short(up.Snapshot.ID), up.Deploy.Release, snapshot.Short(list[0].ID))
	}
}
