package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/store"
)

// viaServer runs ladder in an empty directory (no project, no store) against
// a ladder server, with token as its credential.
func viaServer(t *testing.T, server, token string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ladderBin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "LADDER_SERVER="+server)
	if token != "" {
		cmd.Env = append(cmd.Env, "LADDER_TOKEN="+token)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ladder %v: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// TestThinClientsThroughAServedEngine: `ladder serve --listen` takes the
// verbs from machines with no project and no store (LADDER_SERVER and a
// token): promote, approve, rollback and status run in the engine as the
// token's identity, with the exit codes the commands have; a missing,
// wrong or short-of-role token is exit 8, and nothing of the API answers
// over TCP without a token.
func TestThinClientsThroughAServedEngine(t *testing.T) {
	p := newLadderProject(t)
	p.write("ladder.yaml", twoRungs(""))
	port := freePort(t)
	server := fmt.Sprintf("http://127.0.0.1:%d", port)
	r := &replica{cmd: exec.Command(ladderBin, "serve", "-C", p.dir, "--listen", fmt.Sprintf("127.0.0.1:%d", port))}
	r.cmd.Env = append(os.Environ(), p.env...)
	r.cmd.Stdout, r.cmd.Stderr = r, r
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	})
	eventually(t, 30*time.Second, "the engine answers over TCP", func() (bool, string) {
		resp, err := http.Get(server + "/healthz")
		if err != nil {
			return false, r.output()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, r.output()
	})
	resp, err := http.Get(server + "/v1/engine")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/engine over TCP without a token: %d, want 401", resp.StatusCode)
	}

	s1 := p.upJSON().Snapshot.ID
	ci := p.createToken("ci", "promoter:dev")
	viewer := p.createToken("watcher", "viewer:*")
	ana := p.createToken("ana", "approver:dev")

	// Refused before anything runs: no token, a wrong one, one short of
	// the role.
	if res := viaServer(t, server, "", "promote", s1, "--to", "dev"); res.code != 8 || !strings.Contains(res.stderr, "LADDER_TOKEN") {
		t.Errorf("promote without a token: %s", res)
	}
	if res := viaServer(t, server, "ldr_wrong", "promote", s1, "--to", "dev"); res.code != 8 {
		t.Errorf("promote with a wrong token: %s", res)
	}
	if res := viaServer(t, server, viewer, "promote", s1, "--to", "dev"); res.code != 8 || !strings.Contains(res.stderr, "promoter") {
		t.Errorf("promote as a viewer: %s", res)
	}
	if rels := p.releases("dev"); len(rels) != 0 {
		t.Fatalf("refused promotions made releases: %+v", rels)
	}

	res := viaServer(t, server, ci, "promote", s1[:12], "--to", "dev", "-o", "json", "--why", "from CI")
	var pr promoteResult
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &pr) != nil || pr.Promotion.Phase != store.PromotionSucceeded || pr.Deploy == nil || pr.Deploy.Release == 0 {
		t.Fatalf("promote through the server: %s", res)
	}
	if pr.Promotion.By != "ci" {
		t.Errorf("the promotion is recorded as %q, want the token's identity ci", pr.Promotion.By)
	}
	if res := viaServer(t, server, ci, "status", "--env", "dev", "-o", "json"); res.code != 0 || !strings.Contains(res.stdout, s1) {
		t.Errorf("status through the server: %s", res)
	}
	if res := viaServer(t, server, ana, "approve", s1, "--to", "dev", "-o", "json"); res.code != 0 || !strings.Contains(res.stdout, `"ana"`) {
		t.Errorf("approve through the server: %s", res)
	}
	// A second snapshot, then a rollback from the server to the first.
	// A viewer follows dev's events from the server meanwhile (a
	// Server-Sent Events stream), and sees the second deploy succeed.
	s2 := p.newSnapshot(t, "KNOB_A")
	follower := &replica{cmd: exec.Command(ladderBin, "events", "dev", "-f", "-n", "1", "-o", "json")}
	follower.cmd.Dir = t.TempDir()
	follower.cmd.Env = append(os.Environ(), "LADDER_SERVER="+server, "LADDER_TOKEN="+viewer)
	follower.cmd.Stdout, follower.cmd.Stderr = follower, follower
	if err := follower.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = follower.cmd.Process.Kill()
		_ = follower.cmd.Wait()
	})
	eventually(t, 30*time.Second, "the follower prints dev's newest event", func() (bool, string) {
		return strings.Count(follower.output(), "\n") >= 1, follower.output()
	})
	if res := viaServer(t, server, ci, "promote", s2, "--to", "dev"); res.code != 0 || !strings.Contains(res.stdout, "dev runs snapshot") {
		t.Fatalf("promote %s through the server: %s", s2[:12], res)
	}
	eventually(t, 30*time.Second, "the follower sees "+s2[:12]+" deployed", func() (bool, string) {
		for line := range strings.Lines(follower.output()) {
			var e store.Event
			if json.Unmarshal([]byte(line), &e) == nil && e.Kind == store.EventDeploySucceeded && e.Snapshot == s2 && e.Env == "dev" {
				return true, ""
			}
		}
		return false, follower.output()
	})
	_ = follower.cmd.Process.Signal(os.Interrupt)
	if err := follower.cmd.Wait(); err != nil {
		t.Errorf("events -f after Ctrl-C: %v\n%s", err, follower.output())
	}
	// The snapshots and where they run, as the store says.
	snaps := p.run("snapshots", "-o", "json")
	if res := viaServer(t, server, viewer, "snapshots", "-o", "json"); res.code != 0 || res.stdout != snaps.stdout || !strings.Contains(res.stdout, s2) {
		t.Errorf("snapshots through the server:\n%s\nwant the store's:\n%s", res, snaps)
	}
	// One snapshot with its releases, the job runs and dev's pinned
	// policy: the same answers as the store gives here.
	for _, args := range [][]string{{"snapshot", "show", s1[:8], "-o", "json"}, {"snapshots", "-n", "1", "--before", s2[:8], "-o", "json"}, {"jobs", "dev", "-o", "json"}, {"jobs", "-o", "json"}, {"policy", "show", "dev", "-o", "json"}} {
		here := p.run(args...)
		if res := viaServer(t, server, viewer, args...); res.code != 0 || here.code != 0 || res.stdout != here.stdout {
			t.Errorf("%v through the server:\n%s\nwant the store's:\n%s", args, res, here)
		}
	}
	// (This copy of the demo has no database, so no migration job ran:
	// the lists are empty, and the same.)
	if res := viaServer(t, server, viewer, "jobs", "dev"); res.code != 0 || !strings.HasPrefix(res.stdout, "WHEN") {
		t.Errorf("jobs through the server, as a table: %s", res)
	}
	if res := viaServer(t, server, viewer, "snapshot", "show", "0000dead"); res.code != 4 {
		t.Errorf("snapshot show of an unknown snapshot through the server: %s", res)
	}
	if res := viaServer(t, server, ci, "policy", "accept", "dev"); res.code != 8 {
		t.Errorf("policy accept by a promoter: %s", res)
	}
	// Logs, read where dev runs and streamed by the server.
	if res := viaServer(t, server, viewer, "logs", "users", "--env", "dev", "--tail", "3"); res.code != 0 || !strings.Contains(res.stdout, "users") {
		t.Errorf("logs through the server: %s", res)
	}
	if res := viaServer(t, server, viewer, "logs", "nosuch", "--env", "dev"); res.code != 4 {
		t.Errorf("logs of an unknown service through the server: %s", res)
	}
	if res := viaServer(t, server, viewer, "logs"); res.code != 2 {
		t.Errorf("logs through the server without naming the environment: %s", res)
	}
	// The page of events is the store's, through the server as here.
	evPage := p.run("events", "dev", "-n", "5", "-o", "json")
	if res := viaServer(t, server, viewer, "events", "dev", "-n", "5", "-o", "json"); res.code != 0 || res.stdout != evPage.stdout || !strings.Contains(res.stdout, s2) {
		t.Errorf("events through the server:\n%s\nwant the store's:\n%s", res, evPage)
	}
	if res := viaServer(t, server, ci, "rollback", "dev", "--to", s1, "--why", "bad"); res.code != 0 || !strings.Contains(res.stdout, "rolled back") {
		t.Fatalf("rollback through the server: %s", res)
	}
	if st := statusOf(t, p, "dev"); len(st.Sites) == 0 || st.Sites[0].Snapshot != s1 {
		t.Errorf("dev runs %+v after the rollback, want %s", st.Sites, s1)
	}
	// A change decided on what was read: a read's ETag, sent back as
	// If-Match, holds while dev is as it was; a stale one is 412 and
	// changes nothing.
	raw := func(method, path, token, ifMatch, body string) (int, http.Header, string) {
		req, err := http.NewRequest(method, server+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	code, hdr, body := raw("GET", "/v1/envs/dev/releases?limit=1", viewer, "", "")
	tag := hdr.Get("ETag")
	if code != 200 || !strings.HasPrefix(tag, `"dev.`) {
		t.Fatalf("GET releases: %d, ETag %q: %s", code, tag, body)
	}
	if _, hdr, _ := raw("GET", "/v1/envs/dev/status", viewer, "", ""); hdr.Get("ETag") != tag {
		t.Errorf("the status's ETag %q differs from the releases' %q", hdr.Get("ETag"), tag)
	}
	nrel := len(p.releases("dev"))
	promoteBody := fmt.Sprintf(`{"snapshot": %q, "to": "dev"}`, s2)
	if code, _, body := raw("POST", "/v1/promote", ci, `"dev.1"`, promoteBody); code != http.StatusPreconditionFailed || !strings.Contains(body, "changed since") {
		t.Errorf("promote with a stale If-Match: %d %s, want 412", code, body)
	}
	if n := len(p.releases("dev")); n != nrel {
		t.Errorf("a promotion refused by its If-Match made a release (%d, was %d)", n, nrel)
	}
	if code, _, body := raw("POST", "/v1/approve", ana, tag, fmt.Sprintf(`{"snapshot": %q, "to": "dev"}`, s2)); code != 200 || strings.Contains(body, `"error"`) {
		t.Errorf("approve with the current If-Match: %d %s", code, body)
	}
	// Reads that need the project go through the server too: history,
	// a page at a time, and drift, worked out where the sites run.
	res = viaServer(t, server, viewer, "history", "dev", "-o", "json")
	var rows []struct {
		ID       int64  `json:"id"`
		Snapshot string `json:"snapshot"`
		By       string `json:"by"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &rows) != nil || len(rows) != 3 ||
		rows[0].Snapshot != s1 || rows[1].Snapshot != s2 || rows[2].Snapshot != s1 || rows[0].By != "ci" {
		t.Fatalf("history through the server, want the rollback to s1, s2, then s1: %s", res)
	}
	res = viaServer(t, server, viewer, "history", "dev", "-n", "1", "--before", fmt.Sprint(rows[0].ID), "-o", "json")
	var older []struct {
		ID int64 `json:"id"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &older) != nil || len(older) != 1 || older[0].ID != rows[1].ID {
		t.Errorf("the page of history before release %d, want release %d alone: %s", rows[0].ID, rows[1].ID, res)
	}
	if res := viaServer(t, server, viewer, "history", "dev"); res.code != 0 || !strings.Contains(res.stdout, "RELEASE") || !strings.Contains(res.stdout, s2[:12]) {
		t.Errorf("history through the server, as a table: %s", res)
	}
	if res := viaServer(t, server, viewer, "drift", "dev", "-o", "json"); res.code != 0 || !strings.Contains(res.stdout, s1) {
		t.Errorf("drift through the server, want none, against %s: %s", s1[:12], res)
	}
	stranger := p.createToken("stranger", "viewer:local")
	for _, args := range [][]string{{"history", "dev"}, {"drift", "dev"}, {"events", "dev"}, {"events", "dev", "-f"}, {"logs", "--env", "dev"}, {"snapshots"},
		{"snapshot", "show", s1}, {"jobs"}, {"jobs", "dev"}, {"policy", "show", "dev"}} {
		if res := viaServer(t, server, stranger, args...); res.code != 8 {
			t.Errorf("%v with a token that may not read dev: %s", args, res)
		}
	}
	if res := viaServer(t, server, viewer, "history"); res.code != 2 {
		t.Errorf("history through the server without naming the environment: %s", res)
	}

	// Tokens are managed through the server by an admin of every rung:
	// a token made there works at once and stops at its revocation; a
	// viewer may not list them, and a list never shows a secret.
	admin := p.localToken()
	res = viaServer(t, server, admin, "token", "create", "robot", "--role", "viewer:dev", "--expires", "1h", "-o", "json")
	var made struct {
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
		Token string   `json:"token"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &made) != nil || made.Name != "robot" || !strings.HasPrefix(made.Token, "ldr_") {
		t.Fatalf("token create through the server: %s", res)
	}
	if res := viaServer(t, server, made.Token, "history", "dev"); res.code != 0 {
		t.Errorf("the token made through the server does not read dev: %s", res)
	}
	if res := viaServer(t, server, viewer, "token", "list"); res.code != 8 {
		t.Errorf("token list as a viewer: %s", res)
	}
	if res := viaServer(t, server, viewer, "token", "create", "sneaky", "--role", "admin"); res.code != 8 {
		t.Errorf("token create as a viewer: %s", res)
	}
	if res := viaServer(t, server, admin, "token", "list", "-o", "json"); res.code != 0 || !strings.Contains(res.stdout, `"robot"`) || strings.Contains(res.stdout, made.Token) {
		t.Errorf("token list through the server, want robot and no secret: %s", res)
	}
	if res := viaServer(t, server, admin, "token", "revoke", "Robot"); res.code != 0 || !strings.Contains(res.stdout, "robot") {
		t.Errorf("token revoke through the server: %s", res)
	}
	if res := viaServer(t, server, made.Token, "history", "dev"); res.code != 8 {
		t.Errorf("a revoked token still reads dev: %s", res)
	}
	if res := viaServer(t, server, admin, "token", "revoke", "robot"); res.code != 4 {
		t.Errorf("revoking a token twice through the server: %s", res)
	}

	// The admin of dev pins the server's ladder.yaml policy for it.
	if res := viaServer(t, server, admin, "policy", "accept", "dev"); res.code != 0 || !strings.Contains(res.stdout, "policy for dev") {
		t.Errorf("policy accept through the server: %s", res)
	}

	// Trusted keys too: an admin adds and revokes one from anywhere, a
	// viewer of every rung lists them and may change nothing.
	if res := p.run("keys", "generate"); res.code != 0 {
		t.Fatalf("keys generate: %s", res)
	}
	pub := filepath.Join(p.dir, "ladder.pub")
	if res := viaServer(t, server, viewer, "trust", "add", pub); res.code != 8 {
		t.Errorf("trust add as a viewer: %s", res)
	}
	res = viaServer(t, server, admin, "trust", "add", pub, "-o", "json")
	var key struct {
		Fingerprint string `json:"fingerprint"`
		AddedBy     string `json:"addedBy"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &key) != nil || len(key.Fingerprint) != 64 {
		t.Fatalf("trust add through the server: %s", res)
	}
	if res := viaServer(t, server, viewer, "trust", "list"); res.code != 0 || !strings.Contains(res.stdout, key.Fingerprint) || !strings.Contains(res.stdout, "trusted") {
		t.Errorf("trust list through the server: %s", res)
	}
	if res := viaServer(t, server, admin, "trust", "revoke", key.Fingerprint[:12]); res.code != 0 || !strings.Contains(res.stdout, key.Fingerprint) {
		t.Errorf("trust revoke through the server: %s", res)
	}
	if res := viaServer(t, server, admin, "trust", "revoke", key.Fingerprint[:12]); res.code != 2 || !strings.Contains(res.stderr, "revoked already") {
		t.Errorf("trust revoke of a revoked key through the server: %s", res)
	}
	if res := viaServer(t, server, admin, "trust", "add", pub); res.code != 2 || !strings.Contains(res.stderr, "never trusted again") {
		t.Errorf("trusting a revoked key again through the server: %s", res)
	}

	// A snapshot the store does not have: exit 4, as the command says.
	if res := viaServer(t, server, ci, "promote", "0000dead", "--to", "dev"); res.code != 4 {
		t.Errorf("promote of an unknown snapshot through the server: %s", res)
	}
	// The audit names who did what, here and through the server, a page
	// at a time; the whole trail needs a viewer of every rung.
	audit := p.run("audit", "--env", "dev", "-o", "json")
	for _, want := range []string{`"ci"`, `"ana"`, `"watcher"`} {
		if !strings.Contains(audit.stdout, want) {
			t.Errorf("the audit does not name %s:\n%s", want, audit.stdout)
		}
	}
	type auditRow struct {
		ID     int64  `json:"id"`
		Actor  string `json:"actor"`
		Action string `json:"action"`
	}
	var local, remote, page []auditRow
	if err := json.Unmarshal([]byte(audit.stdout), &local); err != nil || len(local) < 3 {
		t.Fatalf("audit: %v %s", err, audit)
	}
	res = viaServer(t, server, viewer, "audit", "--env", "dev", "-o", "json")
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &remote) != nil || !slices.Equal(remote, local) {
		t.Errorf("the audit through the server differs from the store's:\n%s\nwant\n%s", res, audit.stdout)
	}
	res = viaServer(t, server, viewer, "audit", "--env", "dev", "-n", "2", "--before", fmt.Sprint(local[0].ID), "-o", "json")
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &page) != nil || !slices.Equal(page, local[1:3]) {
		t.Errorf("the page of the audit before entry %d, want %v: %s", local[0].ID, local[1:3], res)
	}
	if res := viaServer(t, server, viewer, "audit", "--action", "approve"); res.code != 0 || !strings.Contains(res.stdout, "ana") {
		t.Errorf("the whole audit trail, as a table, for a viewer of every rung: %s", res)
	}
	for _, args := range [][]string{{"audit"}, {"audit", "--env", "dev"}} {
		if res := viaServer(t, server, stranger, args...); res.code != 8 {
			t.Errorf("%v with a token that may not read dev: %s", args, res)
		}
	}
	// On the machine itself, with a served engine, the verbs go through
	// it too: the local admin promotes.
	if res := p.run("promote", s2, "--to", "dev"); res.code != 0 {
		t.Errorf("promote on the engine's machine: %s", res)
	}

	// down through the server: a viewer is refused and dev keeps running;
	// a promoter of dev takes it down, and the server says it no longer
	// runs.
	if res := viaServer(t, server, viewer, "down", "--env", "dev"); res.code != 8 {
		t.Errorf("down as a viewer: %s", res)
	}
	if st := statusOf(t, p, "dev"); len(st.Sites) == 0 {
		t.Fatalf("dev stopped after a refused down: %+v", st)
	}
	res = viaServer(t, server, ci, "down", "--env", "dev", "-o", "json")
	var down struct {
		Env     string `json:"environment"`
		Stopped bool   `json:"stopped"`
	}
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &down) != nil || down.Env != "dev" || !down.Stopped {
		t.Fatalf("down through the server: %s", res)
	}
	if res := viaServer(t, server, ci, "status", "--env", "dev"); res.code != 4 {
		t.Errorf("status through the server of the rung just taken down: %s", res)
	}
	if res := viaServer(t, server, ci, "down"); res.code != 2 {
		t.Errorf("down through the server without naming the environment: %s", res)
	}
}
