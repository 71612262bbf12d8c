package parity

import (
	"encoding/json"
	"fmt"
	goldenfile "github.com/ladderhq/ladder/internal/golden"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
)

// snapshotOf gives every service of p a digest derived from its position.
func snapshotOf(p *spec.Project) *snapshot.Snapshot {
	arts := map[string]snapshot.Artifact{}
	for i, name := range slices.Sorted(maps.Keys(p.Stack.Compose.Services)) {
		d := fmt.Sprintf("sha256:%064x", i+1)
		arts[name] = snapshot.Artifact{Service: name, Digest: d, Builder: "go"}
	}
	return snapshot.New(p.Stack.Name, "fixed-stack-hash", arts, "", time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
}

func fakeImages(string) (render.Image, error) {
	return render.Image{Entrypoint: []string{"/app"}, Env: []string{"PATH=/"}, WorkingDir: "/"}, nil
}

// secretsOf is a Secrets option with a value for every secret, so tests can
// check that no value leaks.
func secretsOf(env string) func(string) (string, error) {
	return func(name string) (string, error) { return "VALUE-OF-" + env + "-" + name, nil }
}

func renderEnv(t testing.TB, p *spec.Project, env string, snap *snapshot.Snapshot) *render.Desired {
	t.Helper()
	d, err := render.RenderWith(p, env, spec.DefaultSite, snap, fakeImages, render.Options{Secrets: secretsOf(env)})
	if err != nil {
		t.Fatalf("render %s: %v", env, err)
	}
	return d
}

// A diff case's "args" section names the two environments.
func TestDiffGolden(t *testing.T) {
	golden(t, "diff", func(t *testing.T, a archive) string {
		args, _ := a.section("args")
		envs := strings.Fields(args)
		if len(envs) != 2 {
			t.Fatalf("args must name two environments, not %q", args)
		}
		p := a.load(t)
		snap := snapshotOf(p)
		r := Diff(renderEnv(t, p, envs[0], snap), renderEnv(t, p, envs[1], snap))
		out := r.String()
		if strings.Contains(out, "VALUE-OF-") {
			t.Errorf("a secret value is in the report:\n%s", out)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "VALUE-OF-") {
			t.Errorf("a secret value is in the JSON report: %s", b)
		}
		var back DiffReport
		if err := json.Unmarshal(b, &back); err != nil || back.String() != out {
			t.Errorf("JSON does not hold the same data (%v):\n%s", err, back.String())
		}
		return out
	})
}

const violationsCompose = `name: v
services:
  db:
    build: ./db
    ports: ["5432"]
  api:
    build: ./api
    ports: ["8080:8080"]
    command: ["serve"]
    depends_on: [db]
    x-ladder:
      health: {path: /healthz}
`

// The renders of one snapshot never differ in the definition; a diff of
// renders that do (edited by hand here, as another stack or a tampered
// render would) reports each such field as a violation.
func TestDiffViolations(t *testing.T) {
	p := archive{files: []archiveFile{{name: "compose.yaml", data: violationsCompose}}}.load(t)
	snap := snapshotOf(p)
	a := renderEnv(t, p, "local", snap)
	b := renderEnv(t, p, "local", snap)
	b.SiteRef = render.SiteRef{Env: "prod", Site: "default"}
	api, _ := b.Service("api")
	api.Digest = "sha256:" + strings.Repeat("f", 64)
	api.Command = []string{"serve", "--debug"}
	api.Entrypoint = []string{"/bin/sh", "-c"}
	api.WorkingDir = "/tmp"
	api.Health.HTTP.Path = "/"
	api.Ports = []render.Port{{Target: 9090, Published: 8080, Protocol: "tcp"}}
	api.DependsOn = nil
	api.Replicas = 4
	db, _ := b.Service("db")
	db.Ports[0].Published = 15432
	r := Diff(a, b)
	if r.OK() || r.Violations != 7 {
		t.Errorf("violations = %d, want 7", r.Violations)
	}
	checkGolden(t, "diff_violations", r.String())

	same := Diff(a, renderEnv(t, p, "local", snap))
	if !same.OK() || len(same.Lines) != 0 || !strings.Contains(same.String(), "no differences") {
		t.Errorf("a render differs from itself:\n%s", same)
	}
	other := snapshotOf(p)
	other.Artifacts["db"] = snapshot.Artifact{Service: "db", Digest: "sha256:" + strings.Repeat("e", 64)}
	other.ID = other.ComputeID()
	if r := Diff(a, renderEnv(t, p, "local", other)); r.Violations != 2 {
		t.Errorf("another snapshot: %d violations, want 2 (snapshot, digest):\n%s", r.Violations, r)
	}
}

func checkGolden(t *testing.T, name, got string) { goldenfile.Check(t, name, got) }
