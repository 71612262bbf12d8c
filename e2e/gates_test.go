package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/store"
)

// gatedLadder is local and a protected prod that needs one approval, on
// the process target.
const gatedLadder = `stack: compose.yaml
environments:
  local:
    target: process
    data: throwaway
    telemetry: {interval: 1s}
  prod:
    from: local
    target: process
    dashboard: 127.0.0.1:0
    telemetry: {interval: 1s}
    protected: true
    gates: {approvals: 1}
`

// newSnapshot changes the stack's environment (nothing is rebuilt) and
// runs it on local: a new signed snapshot.
func (p *project) newSnapshot(t *testing.T, knob string) string {
	t.Helper()
	compose, err := os.ReadFile(filepath.Join(p.dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p.write("compose.yaml", strings.Replace(string(compose), "      USERS_URL: http://users:8080\n", "      "+knob+": \"1\"\n      USERS_URL: http://users:8080\n", 1))
	return p.upJSON().Snapshot.ID
}

func refusedDeploy(t *testing.T, ag *agentChild, snap, why string) {
	t.Helper()
	code, body, err := ag.deploy(context.Background(), `{"snapshot":"`+snap+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	var e api.Error
	_ = json.Unmarshal([]byte(body), &e)
	if code != 409 || e.Code != api.CodeNotAdmitted || !strings.Contains(e.Error, why) {
		t.Errorf("POST /api/v1/deploy of %s: %d %s, want 409 not_admitted saying %q", snap[:12], code, body, why)
	}
}

// Every way onto a gated rung passes the same gates: a direct deploy to
// its agent is refused, a promotion whose gates pass gets there, a new
// signing key is refused until trusted, a weakened ladder.yaml is refused
// until accepted, and rollback still works.
func TestGatedRungAdmitsOnlyThroughItsGates(t *testing.T) {
	p := newLadderProject(t)
	p.write("ladder.yaml", gatedLadder)
	if res := p.run("keys", "generate"); res.code != 0 {
		t.Fatalf("keys generate: %s", res)
	}
	// prod's agent, in an engine that up -d then runs local in too.
	ag := p.startAgentChild("prod")
	s1 := p.upJSON("-d", "--dashboard", "127.0.0.1:0").Snapshot.ID
	// A second person approves (this machine's admin made s1).
	ana := p.createToken("ana", "approver:prod")
	refusedDeploy(t, ag, s1, "the rung is gated (protected, 1 approval(s))")
	if rels := p.releases("prod"); len(rels) != 0 {
		t.Fatalf("a refused deploy made releases: %+v", rels)
	}

	// Through its gates it gets there.
	if pr, res := p.promote(s1, "prod"); res.code != 3 || gate(pr, "approvals").Passed {
		t.Fatalf("promote without the approval: %s", res)
	}
	if res := p.as(ana, "approve", s1, "--to", "prod"); res.code != 0 {
		t.Fatalf("approve: %s", res)
	}
	if pr, res := p.promote(s1, "prod"); res.code != 0 || pr.Promotion.Phase != store.PromotionSucceeded {
		t.Fatalf("promote to prod: %s", res)
	}

	// A signed snapshot that never went through prod's gates.
	s2 := p.newSnapshot(t, "KNOB_A")
	refusedDeploy(t, ag, s2, "the rung is gated")

	// A new key in the working tree is not trusted by prod.
	for _, f := range []string{filepath.Join(p.dir, "ladder.pub"), filepath.Join(p.dir, ".ladder", "keys", "signing.key")} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if res := p.run("keys", "generate"); res.code != 0 || !strings.Contains(res.stderr, "ladder trust add ladder.pub") {
		t.Fatalf("keys generate over a trusted key: %s", res)
	}
	s3 := p.newSnapshot(t, "KNOB_B")
	if res := p.as(ana, "approve", s3, "--to", "prod"); res.code != 0 {
		t.Fatalf("approve: %s", res)
	}
	pr, res := p.promote(s3, "prod")
	if res.code != 3 || gate(pr, "signature").Passed || !strings.Contains(gate(pr, "signature").Reason, "does not trust") {
		t.Fatalf("promote of a snapshot signed with an untrusted key: %s", res)
	}
	if res := p.run("verify", s3); res.code != 3 {
		t.Errorf("verify with an untrusted key: %s", res)
	}
	if res := p.run("trust", "add", filepath.Join(p.dir, "ladder.pub")); res.code != 0 {
		t.Fatalf("trust add: %s", res)
	}
	var keys []store.TrustedKey
	if res := p.run("trust", "list", "-o", "json"); res.code != 0 || json.Unmarshal([]byte(res.stdout), &keys) != nil || len(keys) != 2 {
		t.Fatalf("trust list: %s", res)
	}
	if pr, res := p.promote(s3, "prod"); res.code != 0 || pr.Promotion.Phase != store.PromotionSucceeded {
		t.Fatalf("promote once the key is trusted: %s", res)
	}

	// A weaker ladder.yaml takes no effect on prod until accepted.
	p.write("ladder.yaml", strings.Replace(gatedLadder, "    protected: true\n", "", 1))
	refusedDeploy(t, ag, s2, "protected: true is gone")
	if res := p.as(ana, "approve", s2, "--to", "prod"); res.code != 0 {
		t.Fatalf("approve: %s", res)
	}
	if _, res := p.promote(s2, "prod"); res.code != 9 || !strings.Contains(res.stderr, "ladder policy accept prod") {
		t.Errorf("promote under a weakened policy: want exit 9 naming ladder policy accept: %s", res)
	}
	var ps struct {
		Weaker []string `json:"weaker"`
	}
	if res := p.run("policy", "show", "prod", "-o", "json"); res.code != 0 || json.Unmarshal([]byte(res.stdout), &ps) != nil || len(ps.Weaker) != 1 {
		t.Errorf("policy show: %s", res)
	}
	if res := p.run("policy", "accept", "prod"); res.code != 0 {
		t.Fatalf("policy accept: %s", res)
	}
	// Stricter again applies at once; then rollback works as before.
	p.write("ladder.yaml", gatedLadder)
	if res := p.run("rollback", "prod", "--to", s1); res.code != 0 {
		t.Fatalf("rollback prod: %s", res)
	}
	if st := statusOf(t, p, "prod"); st.Sites[0].Snapshot != s1 {
		t.Errorf("after rollback prod runs %s, want %s", st.Sites[0].Snapshot, s1)
	}

	// Revoking the first key: snapshots it signed are refused.
	var first string
	for _, k := range keys {
		if k.AddedBy == "first use of ladder.pub" {
			first = k.Fingerprint
		}
	}
	if res := p.run("trust", "revoke", first[:12]); res.code != 0 {
		t.Fatalf("trust revoke: %s", res)
	}
	if res := p.run("verify", s1); res.code != 3 || !strings.Contains(res.stderr, "revoked") {
		t.Errorf("verify of a snapshot signed with a revoked key: %s", res)
	}

	audit := p.run("audit", "-o", "json")
	var entries []store.AuditEntry
	if err := json.Unmarshal([]byte(audit.stdout), &entries); err != nil {
		t.Fatalf("audit: %v\n%s", err, audit)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Action+"/"+e.Outcome] = true
	}
	for _, want := range []string{"trust/trusted on first use", "trust/added", "trust/revoked", "policy/pinned", "policy/accepted", "admit/refused"} {
		if !seen[want] {
			t.Errorf("audit lacks %s (has %v)", want, seen)
		}
	}
}
