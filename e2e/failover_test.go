package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/agent"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/postgres"
	"github.com/ladderhq/ladder/internal/store/postgres/pgtest"
)

// replica is a `ladder serve` run by the test.
type replica struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func (r *replica) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.Write(b)
}

func (r *replica) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

func (p *project) startReplica() *replica {
	p.t.Helper()
	r := &replica{cmd: exec.Command(ladderBin, "serve", "-C", p.dir)}
	r.cmd.Env = append(os.Environ(), p.env...)
	r.cmd.Stdout, r.cmd.Stderr = r, r
	if err := r.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = r.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			_ = r.cmd.Process.Kill()
			<-done
		}
	})
	return r
}

// engineOf is the PID engine.json names, 0 when none.
func (p *project) engineOf() int {
	b, err := os.ReadFile(filepath.Join(p.dir, ".ladder", "engine.json"))
	if err != nil {
		return 0
	}
	var info struct {
		PID int `json:"pid"`
	}
	_ = json.Unmarshal(b, &info)
	return info.PID
}

// TestServeReplicasFailOver: two `ladder serve` replicas on one
// PostgreSQL. The first owns the engine and runs both rungs, the second
// waits as a standby. SIGKILL the owner in the middle of a promotion (which
// the owner runs: the command is a thin client of the served engine): the
// command fails, the standby owns the engine within 10 s, closes the
// release and the promotion the owner left half done, and brings each rung
// back to its last good release from the store alone. Nothing runs twice.
// Then a SIGTERM hands the engine over to a third replica at once.
func TestServeReplicasFailOver(t *testing.T) {
	dsn := pgtest.Schema(t)
	p := newLadderProject(t)
	p.env = append(p.env, "LADDER_STORE="+dsn)
	p.env = append(p.env, "LADDER_TOKEN="+p.createToken("ops", "admin"))
	p.write("ladder.yaml", twoRungs(""))

	first := p.startReplica()
	eventually(t, 30*time.Second, "the first replica owns the engine", func() (bool, string) {
		return p.engineOf() == first.cmd.Process.Pid, first.output()
	})
	second := p.startReplica()
	eventually(t, 30*time.Second, "the second replica waits as a standby", func() (bool, string) {
		return strings.Contains(second.output(), "standby: the engine of this store runs as pid"), second.output()
	})
	// It readies what it would resume, and says when it has.
	eventually(t, 60*time.Second, "the standby says it is ready", func() (bool, string) {
		return strings.Contains(second.output(), "standby: ready to take over ("), second.output()
	})

	s1 := p.upJSON().Snapshot.ID
	if _, res := p.promote(s1, "dev"); res.code != 0 {
		t.Fatalf("promote %s: %s", snapshot.Short(s1), res)
	}
	s2 := p.newSnapshot(t, "KNOB_A")
	if engines := p.enginesOf(); len(engines) != 2 {
		t.Fatalf("engines %v: want the two replicas and no background engine", engines)
	}

	// A promotion that is still deploying when its engine dies.
	p.write("ladder.yaml", twoRungs("      services:\n        users:\n          environment:\n            FAULT_HEALTH: fail\n"))
	promote := exec.Command(ladderBin, "-C", p.dir, "promote", s2, "--to", "dev", "-o", "json")
	promote.Env = append(os.Environ(), p.env...)
	var promoteOut bytes.Buffer
	promote.Stdout, promote.Stderr = &promoteOut, &promoteOut
	if err := promote.Start(); err != nil {
		t.Fatal(err)
	}
	var rel store.Release
	eventually(t, 60*time.Second, "dev's release in progress", func() (bool, string) {
		for _, r := range p.releases("dev") {
			if r.Snapshot == s2 && r.Phase == store.PhaseProgressing {
				rel = r
				return true, ""
			}
		}
		return false, promoteOut.String()
	})
	killed := time.Now()
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	p.write("ladder.yaml", twoRungs(""))

	eventually(t, 15*time.Second, "the standby owns the engine", func() (bool, string) {
		return p.engineOf() == second.cmd.Process.Pid, second.output()
	})
	tookOver := time.Since(killed)
	t.Logf("failover: the standby owned the engine %s after the SIGKILL", tookOver.Round(time.Millisecond))
	if tookOver > 10*time.Second {
		t.Errorf("failover took %s, want within 10s", tookOver)
	}

	// The promotion's command saw its engine go.
	if err := promote.Wait(); err == nil {
		t.Errorf("the promotion whose engine died succeeded:\n%s", promoteOut.String())
	}
	eventually(t, 60*time.Second, "the interrupted release is closed", func() (bool, string) {
		r := releaseByID(p.releases("dev"), rel.ID)
		return r.Phase == store.PhaseInterrupted || r.Phase == store.PhaseFailed, string(r.Phase)
	})

	// Each rung runs its last good release again, resumed by the new
	// owner: local s2, dev s1; one instance per service.
	eventually(t, 120*time.Second, "both rungs run their last good release", func() (bool, string) {
		l, d := statusOf(t, p, "local"), statusOf(t, p, "dev")
		ok := len(l.Sites) > 0 && l.Sites[0].Snapshot == s2 && len(d.Sites) > 0 && d.Sites[0].Snapshot == s1 &&
			len(p.leftovers()) == 8
		return ok, second.output()
	})
	for _, env := range []string{"local", "dev"} {
		rels := p.releases(env)
		if len(rels) == 0 || rels[0].By != agent.ResumeActor || rels[0].Phase != store.PhaseSucceeded {
			t.Errorf("%s's newest release: %+v, want one resumed by %s", env, rels[0], agent.ResumeActor)
		}
	}
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	proms, err := st.ListPromotions(t.Context(), store.PromotionFilter{To: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range proms {
		if !pr.Phase.IsTerminal() {
			t.Errorf("promotion %d of %s is still %s", pr.ID, snapshot.Short(pr.Snapshot), pr.Phase)
		}
	}
	if left := p.leftovers(); len(left) != 8 {
		t.Errorf("%d service instances run, want 8 (4 services on 2 rungs): %v", len(left), left)
	}
	if engines := p.enginesOf(); len(engines) != 1 {
		t.Errorf("engines %v after the failover, want the standby alone", engines)
	}

	// Stopping the owner (an upgrade, say) hands over at once to a new
	// standby, which brings both rungs back without anyone asking.
	third := p.startReplica()
	eventually(t, 30*time.Second, "a third replica waits as a standby", func() (bool, string) {
		return strings.Contains(third.output(), "standby:"), third.output()
	})
	before := map[string]int64{}
	for _, env := range []string{"local", "dev"} {
		before[env] = p.releases(env)[0].ID
	}
	shutdowns := p.gracefulShutdowns()
	stopped := time.Now()
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the third replica owns the engine", func() (bool, string) {
		return p.engineOf() == third.cmd.Process.Pid, third.output()
	})
	t.Logf("handover: the next replica owned the engine %s after SIGTERM", time.Since(stopped).Round(time.Millisecond))
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("the replica stopped with SIGTERM exited: %v\n%s", err, second.output())
	}
	eventually(t, 120*time.Second, "both rungs run their last good release after the handover", func() (bool, string) {
		l, d := statusOf(t, p, "local"), statusOf(t, p, "dev")
		ok := len(l.Sites) > 0 && l.Sites[0].Snapshot == s2 && len(d.Sites) > 0 && d.Sites[0].Snapshot == s1 &&
			len(p.leftovers()) == 8
		return ok, third.output()
	})
	// The process target's instances cannot outlive the engine that ran
	// them; on a handover they were stopped as `ladder down` stops them,
	// each running its graceful shutdown, not killed with the process.
	for log, n := range p.gracefulShutdowns() {
		if n <= shutdowns[log] {
			t.Errorf("%s: no graceful shutdown logged on the handover (%d before, %d after)", log, shutdowns[log], n)
		}
	}
	// The next owner resumed each rung, as its own new release.
	for _, env := range []string{"local", "dev"} {
		if r := p.releases(env)[0]; r.ID <= before[env] || r.By != agent.ResumeActor {
			t.Errorf("%s's newest release after the handover: %+v, want a new one by %s", env, r, agent.ResumeActor)
		}
	}
}

// gracefulShutdowns counts, in each service log of the project's process
// target, the demo services' "shutting down" lines: one per instance that
// stopped on SIGTERM rather than being killed.
func (p *project) gracefulShutdowns() map[string]int {
	p.t.Helper()
	logs, _ := filepath.Glob(filepath.Join(p.dir, ".ladder", "logs", "*", "*", "*.log"))
	if len(logs) == 0 {
		p.t.Fatal("no service logs under .ladder/logs")
	}
	n := map[string]int{}
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			p.t.Fatal(err)
		}
		rel, _ := filepath.Rel(p.dir, l)
		n[rel] = strings.Count(string(b), "shutting down")
	}
	return n
}
