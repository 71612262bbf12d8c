package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A binary replaced under the unpacked image of an artifact (the process
// target's cache) fails `ladder verify`, is refused by a protected rung,
// and never runs: an unprotected rung unpacks the image again instead.
func TestTamperedUnpackedImageNeverRuns(t *testing.T) {
	p := newLadderProject(t)
	p.write("ladder.yaml", `stack: compose.yaml
environments:
  local:
    target: process
    telemetry: {interval: 1s}
  prod:
    from: local
    target: process
    protected: true
    dashboard: 127.0.0.1:0
    telemetry: {interval: 1s}
`)
	if res := p.run("keys", "generate"); res.code != 0 {
		t.Fatalf("keys generate: %s", res)
	}
	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	id := up.Snapshot.ID
	if res := p.run("verify", id); res.code != 0 {
		t.Fatalf("verify before tampering: %s", res)
	}

	digest := up.Snapshot.Artifacts["trades"].Digest
	app := filepath.Join(p.dir, ".ladder", "artifacts", "rootfs", strings.TrimPrefix(digest, "sha256:"), "app")
	ran := filepath.Join(t.TempDir(), "ran")
	evil := "#!/bin/sh\ntouch " + ran + "\nexec sleep 600\n"
	if err := os.WriteFile(app+".new", []byte(evil), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(app+".new", app); err != nil {
		t.Fatal(err)
	}

	res := p.run("verify", id)
	if res.code != 3 || !strings.Contains(res.stderr, "service trades") || !strings.Contains(res.stderr, "/app: content changed") {
		t.Errorf("verify after tampering: want exit 3 naming trades' /app\n%s", res)
	}

	pr, res := p.promote(id, "prod")
	if res.code == 0 {
		t.Errorf("promotion of a tampered artifact to a protected rung succeeded\n%s", res)
	}
	if !strings.Contains(res.stdout+res.stderr, "does not match its image") {
		t.Errorf("the refusal does not say the unpacked image was altered:\n%s", res)
	}
	if pr.Deploy != nil && pr.Deploy.Release != 0 && pr.Deploy.Error == "" {
		t.Errorf("prod got release %d", pr.Deploy.Release)
	}
	for _, r := range p.releases("prod") {
		if r.Phase == "succeeded" {
			t.Errorf("prod has a succeeded release: %+v", r)
		}
	}

	// An unprotected rung starting it again unpacks the image afresh.
	if res := p.run("down"); res.code != 0 {
		t.Fatalf("down: %s", res)
	}
	p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	if _, err := os.Stat(ran); err == nil {
		t.Errorf("the tampered binary ran")
	}
	if res := p.run("verify", id); res.code != 0 {
		t.Errorf("verify after the rung unpacked the image again: %s", res)
	}
}
