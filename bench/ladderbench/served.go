package main

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
	"time"

	"github.com/ladderhq/ladder/bench/internal/harness"
	"github.com/ladderhq/ladder/internal/api"
)

// served is part 4: the promotions of part 1 again, through a served
// engine (`ladder serve --listen`), from a client in an empty directory
// with LADDER_SERVER and a token (a thin client: no project, no store),
// and as a bare HTTP request to the engine from this process (the
// engine's own work, without starting a process).
func (b *bench) served(ctx context.Context, ru *rungs, res *results) error {
	b.Logf("part 4: %d promotions to dev through a served engine, by a thin client and by a bare HTTP request", 2*b.n)
	dir := ru.p.dir
	if _, err := b.ladderOK(ctx, dir, "down", "--all"); err != nil {
		return err
	}
	// The background engine ends with its last rung.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, ".ladder", "engine.json")); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the background engine did not end after down --all")
		}
		time.Sleep(50 * time.Millisecond)
	}
	port, err := harness.FreePort()
	if err != nil {
		return err
	}
	server := fmt.Sprintf("http://127.0.0.1:%d", port)
	logf, err := os.Create(filepath.Join(b.Tmp, "serve.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(b.Bin, "-C", dir, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Env = append(os.Environ(), processTarget...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		// Handed over, its rungs' instances end with it; the final
		// `ladder down` of each rung records them down.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(server + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ladder serve did not answer within 30s (its log is %s)", logf.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
	token, err := os.ReadFile(filepath.Join(dir, ".ladder", "admin.token"))
	if err != nil {
		return err
	}
	tok := strings.TrimSpace(string(token))

	// local and dev run again (through the served engine: a served engine
	// on the machine takes the verbs too).
	if _, _, err := b.rollback(ctx, ru.p, "local", ru.s2, "", ru.s2, deployed...); err != nil {
		return err
	}
	ru.local = ru.s2
	if _, _, err := b.rollback(ctx, ru.p, "dev", ru.s2, "", ru.s2, deployed...); err != nil {
		return err
	}
	ru.dev = ru.s2

	empty := filepath.Join(b.Tmp, "client")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		return err
	}
	client := []string{"LADDER_SERVER=" + server, "LADDER_TOKEN=" + tok}
	for k := range 2 * b.n {
		snap := ru.s1
		if ru.dev == ru.s1 {
			snap = ru.s2
		}
		if err := ru.onLocal(ctx, b, snap); err != nil {
			return err
		}
		if k%2 == 0 {
			what := "thin ladder promote " + short(snap)
			r, err := b.Ladder(ctx, empty, client, "promote", snap, "--to", "dev", "-o", "json")
			if err == nil && r.Code != 0 {
				err = fmt.Errorf("%s: exit %d\n%s", what, r.Code, harness.Tail(r.Stderr))
			}
			if err != nil {
				return err
			}
			var pr struct {
				Deploy *api.DeployResult `json:"deploy"`
			}
			if err := decode(r, what, &pr); err != nil {
				return err
			}
			if err := checkDeploy(what, pr.Deploy, snap, "web"); err != nil {
				return err
			}
			res.Add("s.thin", r.Took)
			res.Add("s.thin.deploy", pr.Deploy.Duration)
			res.Add("s.thin.overhead", r.Took-pr.Deploy.Duration)
			b.Logf("  thin promote %s: %s (deploy %s)", short(snap), harness.Ms(r.Took), harness.Ms(pr.Deploy.Duration))
		} else {
			d, took, err := postPromote(ctx, server, tok, snap)
			if err != nil {
				return err
			}
			if err := checkDeploy("POST /v1/promote "+short(snap), d, snap, "web"); err != nil {
				return err
			}
			res.Add("s.http", took)
			res.Add("s.http.deploy", d.Duration)
			res.Add("s.http.overhead", took-d.Duration)
			b.Logf("  POST /v1/promote %s: %s (deploy %s)", short(snap), harness.Ms(took), harness.Ms(d.Duration))
		}
		ru.dev = snap
		ru.promoted++
	}
	// While the engine still runs the rungs (its agents answer).
	return b.noBuild(ctx, ru, res, "part 4")
}

// postPromote promotes snap to dev with one HTTP request to the engine.
func postPromote(ctx context.Context, server, token, snap string) (*api.DeployResult, time.Duration, error) {
	body, _ := json.Marshal(map[string]string{"snapshot": snap, "to": "dev"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/v1/promote", bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var ans struct {
		Result struct {
			Deploy *api.DeployResult `json:"deploy"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	err = json.NewDecoder(resp.Body).Decode(&ans)
	took := time.Since(start)
	switch {
	case err != nil:
		return nil, 0, fmt.Errorf("POST /v1/promote: %w", err)
	case resp.StatusCode != http.StatusOK:
		return nil, 0, fmt.Errorf("POST /v1/promote: HTTP %d", resp.StatusCode)
	case ans.Error != nil:
		return nil, 0, fmt.Errorf("POST /v1/promote: %s", ans.Error.Message)
	}
	return ans.Result.Deploy, took, nil
}
