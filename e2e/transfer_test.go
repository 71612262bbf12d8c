package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/registrytest"
)

// TestPushThenPromoteElsewhere is "build once in CI, promote the digest":
// a snapshot made in one checkout travels through a registry to another
// ladder, which has never built anything, and runs there unchanged.
func TestPushThenPromoteElsewhere(t *testing.T) {
	reg := registrytest.Start(t, nil)

	// CI builds and records the snapshot, and runs nothing.
	ci := newProject(t)
	res := ci.run("build", "-o", "json")
	if res.code != 0 {
		t.Fatalf("ladder build: %s", res)
	}
	var up upResult
	if err := json.Unmarshal([]byte(res.stdout), &up); err != nil {
		t.Fatalf("build -o json: %v\n%s", err, res)
	}
	id := up.Snapshot.ID
	if id == "" || len(up.Build.Built) == 0 {
		t.Fatalf("ladder build made no snapshot: %s", res)
	}
	if st, res := ci.status(); res.code != 4 {
		t.Fatalf("ladder build deployed something: exit %d, %+v", res.code, st)
	}

	res = ci.run("push", id, "--to", reg.Addr+"/team", "-o", "json")
	if res.code != 0 {
		t.Fatalf("ladder push: %s", res)
	}
	var pushed struct {
		Snapshot, Reference string
	}
	if err := json.Unmarshal([]byte(res.stdout), &pushed); err != nil {
		t.Fatalf("push -o json: %v\n%s", err, res)
	}
	if pushed.Snapshot != id || !strings.HasPrefix(pushed.Reference, reg.Addr+"/team/") || !strings.Contains(pushed.Reference, ":"+id+"@sha256:") {
		t.Fatalf("push answered %+v for snapshot %s", pushed, id)
	}

	// The snapshot is filed under the stack's name, which is the CI
	// checkout's Compose project name here.
	stack := strings.TrimPrefix(pushed.Reference[:strings.LastIndex(pushed.Reference, ":"+id)], reg.Addr+"/team/")
	server := newProject(t)
	// A prefix cannot be resolved by a registry: the full ID is needed.
	if res := server.run("pull", id[:12], "--from", reg.Addr+"/team", "--stack", stack); res.code == 0 {
		t.Fatalf("pull of a prefix succeeded: %s", res)
	}
	if res := server.run("pull", id, "--from", reg.Addr+"/team", "--stack", stack); res.code != 0 {
		t.Fatalf("ladder pull: %s", res)
	}
	res = server.run("snapshot", "show", id, "-o", "json")
	if res.code != 0 {
		t.Fatalf("the pulled snapshot is not in the store: %s", res)
	}
	var snap struct {
		ID        string
		Artifacts map[string]struct{ Digest string }
	}
	if err := json.Unmarshal([]byte(res.stdout), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.ID != id || len(snap.Artifacts) != len(up.Snapshot.Artifacts) {
		t.Fatalf("pulled snapshot %s with %d artifacts, pushed %s with %d", snap.ID, len(snap.Artifacts), id, len(up.Snapshot.Artifacts))
	}
	for name, a := range up.Snapshot.Artifacts {
		if got := snap.Artifacts[name].Digest; got != a.Digest {
			t.Errorf("artifact %s: pulled %s, pushed %s", name, got, a.Digest)
		}
	}

	// The other ladder deploys the very digests, without building.
	res = server.run("up", "-d", "--dashboard", "127.0.0.1:0", "--snapshot", id[:12])
	if res.code != 0 {
		t.Fatalf("up --snapshot of the pulled snapshot: %s", res)
	}
	if !strings.Contains(res.stdout, "nothing built") {
		t.Errorf("up --snapshot does not say it built nothing:\n%s", res.stdout)
	}
	st, res := server.status()
	if res.code != 0 {
		t.Fatalf("status after promoting the pulled snapshot: %s", res)
	}
	if got := site(st).Snapshot; got != id {
		t.Fatalf("the server runs snapshot %s, want the pulled %s", got, id)
	}
}
