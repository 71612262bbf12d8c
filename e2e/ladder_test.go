package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/store"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

// ladderFile is a four-rung ladder for the walkthrough tests, on the
// process target so the rungs run side by side quickly.
const ladderFile = `stack: compose.yaml
environments:
  local:
    target: process
    data: throwaway
    telemetry: {interval: 1s}
  dev:
    from: local
    target: process
    dashboard: 127.0.0.1:0
    telemetry: {interval: 1s}
  staging:
    from: dev
    target: process
    dashboard: 127.0.0.1:0
    gates:
      soak: 3s
      tests:
        - name: smoke
          command: ["/bin/sh", "-c", "test -n \"$WEB_URL\" && test \"$LADDER_ENVIRONMENT\" = dev"]
  prod:
    from: staging
    target: process
    sites: [{name: east}, {name: west}]
    dashboard: 127.0.0.1:0
    protected: true
    data: real
    gates:
      approvals: 2
      signed: true
      tests:
        - name: hangs
          command: ["/bin/sh", "-c", "sleep 30"]
          timeout: 1s
`

// newLadderProject is a demo copy whose web port is picked per rung (no
// two rungs can publish the same host port on one machine).
func newLadderProject(t *testing.T) *project {
	p := newProject(t)
	compose, err := os.ReadFile(filepath.Join(p.dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p.write("compose.yaml", strings.Replace(string(compose), `"${WEB_PORT:-3000}:8080"`, `"8080"`, 1))
	p.write("ladder.yaml", ladderFile)
	p.env = append(p.env, "LADDER_SIGNING_PASSWORD=correct horse")
	t.Cleanup(func() {
		for _, env := range []string{"dev", "staging", "prod"} {
			p.run("down", "--env", env)
		}
	})
	return p
}

type promoteResult struct {
	Promotion store.Promotion    `json:"promotion"`
	Gates     []store.GateResult `json:"gates"`
	Deploy    *struct {
		Release int64  `json:"release"`
		Error   string `json:"error"`
	} `json:"deploy"`
}

func (p *project) promote(snap, to string) (promoteResult, result) {
	p.t.Helper()
	res := p.run("promote", snap, "--to", to, "-o", "json")
	var pr promoteResult
	if res.stdout != "" {
		if err := json.Unmarshal([]byte(res.stdout), &pr); err != nil {
			p.t.Fatalf("promote -o json: %v\n%s", err, res)
		}
	}
	return pr, res
}

func gate(pr promoteResult, name string) store.GateResult {
	for _, g := range pr.Gates {
		if g.Gate == name {
			return g
		}
	}
	return store.GateResult{Gate: name, Reason: "(not evaluated)"}
}

func TestLadderPromotionRollbackAndAudit(t *testing.T) {
	p := newLadderProject(t)
	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	s1 := up.Snapshot.ID
	layout := filepath.Join(p.dir, ".ladder", "artifacts", "index.json")
	index, err := os.ReadFile(layout)
	if err != nil {
		t.Fatal(err)
	}

	// A promotion may not skip a rung.
	pr, res := p.promote(s1, "staging")
	if res.code != 3 || pr.Promotion.Phase != store.PromotionBlocked || !strings.Contains(gate(pr, "previous-rung").Reason, "may not skip a rung") {
		t.Fatalf("promoting past dev: %s", res)
	}
	// An unknown snapshot is "not found".
	if _, res := p.promote("deadbeef", "dev"); res.code != 4 {
		t.Errorf("promoting an unknown snapshot exited %d, want 4\n%s", res.code, res)
	}
	// up refuses a rung that is promoted to.
	if res := p.run("up", "--env", "dev"); res.code != 2 || !strings.Contains(res.stderr, "ladder promote") {
		t.Errorf("up --env dev: %s", res)
	}

	// local -> dev: the same snapshot, nothing built.
	pr, res = p.promote(s1, "dev")
	if res.code != 0 || pr.Promotion.Phase != store.PromotionSucceeded || pr.Deploy == nil || pr.Deploy.Release == 0 {
		t.Fatalf("promote to dev: %s", res)
	}
	if after, _ := os.ReadFile(layout); !bytes.Equal(after, index) {
		t.Error("promotion changed the artifact store: it must build nothing")
	}
	st := statusOf(t, p, "dev")
	if st.Sites[0].Snapshot != s1 {
		t.Fatalf("dev runs %s, want %s", snapshot.Short(st.Sites[0].Snapshot), snapshot.Short(s1))
	}

	// dev -> staging: blocked while soaking, then through with its test.
	pr, res = p.promote(s1, "staging")
	if res.code != 3 || gate(pr, "soak").Passed {
		t.Fatalf("promoting before the soak: %s", res)
	}
	time.Sleep(3 * time.Second)
	pr, res = p.promote(s1, "staging")
	if res.code != 0 || !gate(pr, "test:smoke").Passed {
		t.Fatalf("promote to staging after the soak: %s", res)
	}

	// staging -> prod needs two distinct approvals, a signature, and a test
	// that hangs (bounded by its timeout). Prod is protected: this
	// machine's admin made and promoted the snapshot, so cannot approve it;
	// other people do, each with a token of their own.
	if res := p.run("approve", s1[:10], "--to", "prod"); res.code != 8 || !strings.Contains(res.stderr, "made or promoted snapshot") {
		t.Errorf("an approval by the snapshot's promoter: %s", res)
	}
	ana := p.createToken("ana", "approver:prod")
	bo := p.createToken("bo", "approver:prod")
	if res := p.as(ana, "approve", s1[:10], "--to", "prod"); res.code != 0 {
		t.Fatalf("approve: %s", res)
	}
	if res := p.as(ana, "approve", s1[:10], "--to", "prod"); res.code == 0 || !strings.Contains(res.stderr, "already approved") {
		t.Errorf("a second approval by the same identity: %s", res)
	}
	begun := time.Now()
	pr, res = p.promote(s1, "prod")
	if res.code != 3 {
		t.Fatalf("promote to prod without approvals and signature: %s", res)
	}
	if time.Since(begun) > 20*time.Second {
		t.Errorf("a hanging gate test was not cut off by its 1s timeout")
	}
	for g, phrase := range map[string]string{"approvals": "has 1 (ana)", "signature": "ladder keys generate", "test:hangs": "timed out after 1s"} {
		if r := gate(pr, g); r.Passed || !strings.Contains(r.Reason, phrase) {
			t.Errorf("gate %s: %+v, want failed with %q", g, r, phrase)
		}
	}

	// Sign and approve: the same snapshot reaches prod... except the hanging
	// test still blocks it: drop that gate.
	if res := p.run("keys", "generate"); res.code != 0 {
		t.Fatalf("keys generate: %s", res)
	}
	if res := p.run("sign", s1); res.code != 0 {
		t.Fatalf("sign: %s", res)
	}
	if res := p.as(bo, "approve", s1, "--to", "prod"); res.code != 0 {
		t.Fatalf("approve: %s", res)
	}
	p.write("ladder.yaml", strings.Replace(ladderFile, "      tests:\n        - name: hangs\n          command: [\"/bin/sh\", \"-c\", \"sleep 30\"]\n          timeout: 1s\n", "", 1))

	// A tampered artifact is refused by the protected rung.
	blob := largestBlob(t, filepath.Join(p.dir, ".ladder", "artifacts", "blobs", "sha256"))
	original, _ := os.ReadFile(blob)
	tampered := append([]byte(nil), original...)
	tampered[len(tampered)/2] ^= 0xff
	if err := os.WriteFile(blob, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := p.run("verify", s1); res.code != 3 {
		t.Errorf("verify with a tampered artifact exited %d\n%s", res.code, res)
	}
	if pr, res := p.promote(s1, "prod"); res.code != 3 || gate(pr, "signature").Passed {
		t.Errorf("promotion of a tampered snapshot to prod: %s", res)
	}
	if err := os.WriteFile(blob, original, 0o644); err != nil {
		t.Fatal(err)
	}

	// A lease left by a killed ladder process blocks nobody once it lapsed.
	leaveLapsedLease(t, p, "env/prod")
	pr, res = p.promote(s1, "prod")
	if res.code != 0 || pr.Promotion.Phase != store.PromotionSucceeded {
		t.Fatalf("promote to prod: %s", res)
	}
	// prod is a fleet of two sites: both run the snapshot.
	prod := statusOf(t, p, "prod")
	if len(prod.Sites) != 2 || prod.Sites[0].Snapshot != s1 || prod.Sites[1].Snapshot != s1 {
		t.Errorf("prod sites: %+v, want east and west on %s", prod.Sites, snapshot.Short(s1))
	}

	// Break dev with the demo's error knob (a new snapshot), then roll back.
	compose, _ := os.ReadFile(filepath.Join(p.dir, "compose.yaml"))
	p.write("compose.yaml", strings.Replace(string(compose), "      USERS_URL: http://users:8080\n      NOTIFICATIONS_URL:", "      FAULT_ERROR_RATE: \"0.5\"\n      USERS_URL: http://users:8080\n      NOTIFICATIONS_URL:", 1))
	up2 := p.upJSON()
	s2 := up2.Snapshot.ID
	if s2 == s1 || len(up2.Build.Built) != 0 {
		t.Fatalf("the knob should make a new snapshot without building: %s built %v", snapshot.Short(s2), up2.Build.Built)
	}
	if _, res := p.promote(s2, "dev"); res.code != 0 {
		t.Fatalf("promote the broken snapshot to dev: %s", res)
	}
	res = p.run("rollback", "dev", "-o", "json")
	if res.code != 0 {
		t.Fatalf("rollback dev: %s", res)
	}
	if st := statusOf(t, p, "dev"); st.Sites[0].Snapshot != s1 {
		t.Errorf("after rollback dev runs %s, want the known-good %s", snapshot.Short(st.Sites[0].Snapshot), snapshot.Short(s1))
	}
	hist := p.run("history", "dev", "-o", "json")
	var rels []store.Release
	if err := json.Unmarshal([]byte(hist.stdout), &rels); err != nil || len(rels) != 3 || rels[0].Snapshot != s1 || rels[1].Snapshot != s2 {
		t.Errorf("history of dev: %v\n%s", err, hist)
	}

	// The audit trail has who did what.
	audit := p.run("audit", "-o", "json")
	var entries []store.AuditEntry
	if err := json.Unmarshal([]byte(audit.stdout), &entries); err != nil {
		t.Fatalf("audit: %v\n%s", err, audit)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Action+"/"+e.Outcome] = true
	}
	for _, e := range entries {
		if e.Action == "approve" && e.Outcome == "approved" {
			seen["approved by "+e.Actor] = true
		}
	}
	for _, want := range []string{"deploy/succeeded", "promote/requested", "promote/succeeded", "approve/approved", "approve/refused", "gate/failed", "gate/passed", "rollback/succeeded", "approved by ana", "approved by bo"} {
		if !seen[want] {
			t.Errorf("audit lacks %s (has %v)", want, seen)
		}
	}
}

func statusOf(t *testing.T, p *project, env string) (st statusDoc) {
	t.Helper()
	res := p.run("status", "--env", env, "-o", "json")
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		t.Fatalf("status --env %s: %v\n%s", env, err, res)
	}
	return st
}

type statusDoc struct {
	Sites []struct {
		Snapshot string `json:"snapshot"`
	} `json:"sites"`
}

func largestBlob(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	best, size := "", int64(-1)
	for _, e := range entries {
		info, err := e.Info()
		if err == nil && info.Size() > size {
			best, size = filepath.Join(dir, e.Name()), info.Size()
		}
	}
	return best
}

// leaveLapsedLease records a lease taken a minute ago, for 5s, by a
// process that never renewed it (it was killed).
func leaveLapsedLease(t *testing.T, p *project, name string) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(p.dir, ".ladder", "ladder.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dead := store.Holder{Host: "gone", PID: 999999, Instance: "killed"}
	if _, err := st.AcquireLease(context.Background(), name, dead, time.Now().Add(-time.Minute), 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// traffic loads dev's web page (each load calls trades twice) for d, so
// that its services have error rates and latencies to judge.
func traffic(t *testing.T, p *project, env string, d time.Duration) {
	t.Helper()
	st, res := p.run("status", "--env", env, "-o", "json"), api.Status{}
	if err := json.Unmarshal([]byte(st.stdout), &res); err != nil {
		t.Fatalf("status --env %s: %v\n%s", env, err, st)
	}
	web := endpoint(t, res, "web")
	c := &http.Client{Timeout: 2 * time.Second}
	for end := time.Now().Add(d); time.Now().Before(end); {
		if resp, err := c.Get(web + "/"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type historyDoc struct {
	store.Release
	KnownGoodReason string `json:"knownGoodReason"`
}

// historyOf reads `ladder history ENV -o json`, which judges the releases
// whose soak is over.
func historyOf(t *testing.T, p *project, env string) []historyDoc {
	t.Helper()
	res := p.run("history", env, "-o", "json")
	var rels []historyDoc
	if err := json.Unmarshal([]byte(res.stdout), &rels); err != nil {
		t.Fatalf("history %s: %v\n%s", env, err, res)
	}
	return rels
}

// A release that stays healthy but fails 30% of its requests under real
// traffic through staging's soak is not known-good on dev, and a rollback
// goes back past it to the healthy one.
func TestKnownGoodNeedsTelemetryWithinLimits(t *testing.T) {
	p := newLadderProject(t)
	s1 := p.upJSON("-d", "--dashboard", "127.0.0.1:0").Snapshot.ID
	if _, res := p.promote(s1, "dev"); res.code != 0 {
		t.Fatalf("promote to dev: %s", res)
	}
	traffic(t, p, "dev", 5*time.Second) // staging's soak is 3s

	compose, _ := os.ReadFile(filepath.Join(p.dir, "compose.yaml"))
	knob := func(rate string) string {
		return strings.Replace(string(compose), "      USERS_URL: http://users:8080\n      NOTIFICATIONS_URL:",
			"      FAULT_ERROR_RATE: \""+rate+"\"\n      USERS_URL: http://users:8080\n      NOTIFICATIONS_URL:", 1)
	}
	p.write("compose.yaml", knob("0.3"))
	s2 := p.upJSON().Snapshot.ID
	if _, res := p.promote(s2, "dev"); res.code != 0 {
		t.Fatalf("promote the faulty snapshot to dev: %s", res)
	}
	traffic(t, p, "dev", 5*time.Second)

	verdict := map[string]historyDoc{}
	for _, r := range historyOf(t, p, "dev") {
		if _, seen := verdict[r.Snapshot]; !seen {
			verdict[r.Snapshot] = r
		}
	}
	if r := verdict[s1]; !r.KnownGood || !strings.Contains(r.KnownGoodReason, "trades") {
		t.Errorf("the healthy snapshot %s: known-good %v (%q), want known-good with trades' telemetry", snapshot.Short(s1), r.KnownGood, r.KnownGoodReason)
	}
	if r := verdict[s2]; r.KnownGood || !strings.Contains(r.KnownGoodReason, "trades") || !strings.Contains(r.KnownGoodReason, "errors > 5.0%") {
		t.Errorf("the snapshot failing 30%% of trades' requests %s: known-good %v (%q), want not known-good for trades' errors", snapshot.Short(s2), r.KnownGood, r.KnownGoodReason)
	}
	if res := p.run("history", "dev"); !strings.Contains(res.stdout, "KNOWN-GOOD BECAUSE") || !strings.Contains(res.stdout, "errors > 5.0%") {
		t.Errorf("history dev does not say why: %s", res)
	}

	// A third snapshot runs now; rolling back skips the faulty one.
	p.write("compose.yaml", knob("0"))
	s3 := p.upJSON().Snapshot.ID
	if _, res := p.promote(s3, "dev"); res.code != 0 {
		t.Fatalf("promote the third snapshot to dev: %s", res)
	}
	// The files back as they were for the first snapshot, as after a
	// revert, so the rollback renders it from them.
	p.write("compose.yaml", string(compose))
	if res := p.run("rollback", "dev"); res.code != 0 {
		t.Fatalf("rollback dev: %s", res)
	}
	if st := statusOf(t, p, "dev"); st.Sites[0].Snapshot != s1 {
		t.Errorf("after rollback dev runs %s, want the known-good %s, not the faulty %s",
			snapshot.Short(st.Sites[0].Snapshot), snapshot.Short(s1), snapshot.Short(s2))
	}
	audit := p.run("audit", "--action", "known-good", "-o", "json")
	if !strings.Contains(audit.stdout, "not known-good") {
		t.Errorf("the audit trail does not record the verdict: %s", audit)
	}
}
