package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// twoRungs is local and dev on the process target; devValues is indented
// under dev's values.
func twoRungs(devValues string) string {
	s := `stack: compose.yaml
environments:
  local:
    target: process
    telemetry: {interval: 1s}
  dev:
    from: local
    target: process
    dashboard: 127.0.0.1:0
    telemetry: {interval: 1s}
`
	if devValues != "" {
		s += "    values:\n" + devValues
	}
	return s
}

// agentChild is an environment's agent in a `ladder serve` engine that
// runs as a child of the test, which does not wait for it: killed, it
// stays a zombie until reaped, as a process does under a parent that
// never waits. Start it before anything else runs: later commands (up -d,
// promote) then run their environments in that engine too.
type agentChild struct {
	cmd *exec.Cmd
	url string
	// token is the project's local admin token, sent with changes.
	token string
}

func (p *project) startAgentChild(env string) *agentChild {
	p.t.Helper()
	cmd := exec.Command(ladderBin, "serve", "-C", p.dir, "--env", env, "--dashboard", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), p.env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	a := &agentChild{cmd: cmd}
	p.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	infoFile := filepath.Join(p.dir, ".ladder", "agent-"+env+".json")
	eventually(p.t, 30*time.Second, "the agent answers", func() (bool, string) {
		var info struct {
			PID int    `json:"pid"`
			URL string `json:"url"`
		}
		b, err := os.ReadFile(infoFile)
		if err != nil || json.Unmarshal(b, &info) != nil || info.PID != cmd.Process.Pid {
			return false, logs.String()
		}
		a.url = info.URL
		resp, err := http.Get(a.url + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	// The engine made the local token when it opened the project.
	a.token = p.localToken()
	return a
}

// deploy posts a deploy request and returns when ctx ends or it answers.
func (a *agentChild) deploy(ctx context.Context, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url+"/api/v1/deploy", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), nil
}

// releases lists env's releases, newest first, as `ladder history` does.
func (p *project) releases(env string) []store.Release {
	p.t.Helper()
	res := p.run("history", env, "-o", "json")
	var rels []store.Release
	if err := json.Unmarshal([]byte(res.stdout), &rels); err != nil {
		p.t.Fatalf("history -o json: %v\n%s", err, res)
	}
	return rels
}

// waitProgressing returns once the agent reports a release of env in
// progress newer than after (asking the agent, which answers faster than
// a ladder command, so a short deploy is not missed).
func (a *agentChild) waitProgressing(t *testing.T, env string, after int64) store.Release {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var rels []store.Release
		getJSON(t, a.url+"/api/v1/releases?environment="+env+"&phase=progressing", &rels)
		for _, r := range rels {
			if r.ID > after {
				return r
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no release in progress on %s within 60s", env)
	return store.Release{}
}

func releaseByID(rels []store.Release, id int64) store.Release {
	for _, r := range rels {
		if r.ID == id {
			return r
		}
	}
	return store.Release{ID: id, Phase: "(missing)"}
}

// A client that hangs up mid-deploy stops watching, not the deploy: the
// release runs to completion on the agent's own context.
func TestDroppedClientDoesNotCancelTheDeploy(t *testing.T) {
	p := newLadderProject(t)
	p.write("ladder.yaml", twoRungs(""))
	ag := p.startAgentChild("dev")
	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")

	ctx, hangUp := context.WithCancel(context.Background())
	answered := make(chan error, 1)
	go func() {
		_, _, err := ag.deploy(ctx, fmt.Sprintf(`{"snapshot": %q}`, up.Snapshot.ID))
		answered <- err
	}()
	rel := ag.waitProgressing(t, "dev", 0)
	hangUp()
	select {
	case err := <-answered:
		if err == nil {
			t.Fatal("the deploy answered before the client hung up: nothing was proven")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not end after the client hung up")
	}
	eventually(t, 90*time.Second, "the release finishes", func() (bool, string) {
		r := releaseByID(p.releases("dev"), rel.ID)
		return r.Phase != store.PhaseProgressing, string(r.Phase)
	})
	if r := releaseByID(p.releases("dev"), rel.ID); r.Phase != store.PhaseSucceeded {
		t.Errorf("release %d after the client hung up: %s (%s), want succeeded", r.ID, r.Phase, r.Reason)
	}
	st := statusOf(t, p, "dev")
	if len(st.Sites) == 0 || st.Sites[0].Snapshot != up.Snapshot.ID {
		t.Errorf("dev does not run snapshot %s after the deploy: %+v", up.Snapshot.ID, st)
	}
}

// An agent killed mid-deploy (and left a zombie by its parent) leaves a
// release "progressing"; the next promote or rollback closes it as
// interrupted before deciding anything.
func TestKilledAgentIsRecoveredByPromoteAndRollback(t *testing.T) {
	p := newLadderProject(t)
	p.write("ladder.yaml", twoRungs(""))
	// The engine the test kills runs local too: up -d finds it.
	ag := p.startAgentChild("dev")
	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	hanging := twoRungs("      services:\n        users:\n          environment:\n            FAULT_HEALTH: fail\n")

	var last int64
	for i, command := range [][]string{
		{"rollback", "dev"},
		{"promote", up.Snapshot.ID, "--to", "dev"},
	} {
		p.write("ladder.yaml", hanging)
		if i > 0 {
			ag = p.startAgentChild("dev")
		}
		go func() {
			_, _, _ = ag.deploy(context.Background(), fmt.Sprintf(`{"snapshot": %q, "healthTimeout": "3m"}`, up.Snapshot.ID))
		}()
		rel := ag.waitProgressing(t, "dev", last)
		last = rel.ID
		time.Sleep(500 * time.Millisecond)
		pid := ag.cmd.Process.Pid
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "the killed agent is a zombie", func() (bool, string) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			i := bytes.LastIndexByte(b, ')')
			return i > 0 && len(b) > i+2 && b[i+2] == 'Z', string(b)
		})

		// Ownership is by lease: the killed agent's deploy lease lapses
		// within 5s of its last renewal, and only then is its release
		// an orphan for the next command to close.
		time.Sleep(6 * time.Second)
		p.write("ladder.yaml", twoRungs(""))
		res := p.run(command...)
		if !strings.Contains(res.stderr, fmt.Sprintf("recovered: release %d", rel.Number)) {
			t.Errorf("%s did not recover release %d:\n%s", command[0], rel.Number, res)
		}
		if r := releaseByID(p.releases("dev"), rel.ID); r.Phase != store.PhaseInterrupted {
			t.Errorf("after %s, release %d is %s (%s), want interrupted", command[0], rel.ID, r.Phase, r.Reason)
		}
		_ = ag.cmd.Wait()
		p.run("down", "--env", "dev")
	}
}
