package promote

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/spec"
)

// A gate test is a real process: it must not see the promoter's secrets,
// and must see what ladder provides and what it declares.
func TestGateTestGetsOnlyItsDeclaredEnvironment(t *testing.T) {
	for k, v := range map[string]string{
		"LADDER_SIGNING_PASSWORD": "correct horse",
		"LADDER_KEY_PROD":         "AGE-SECRET-KEY-1PLANTED",
		"LADDER_KEYS_DIR":         "/planted/keys",
		"AWS_SECRET_ACCESS_KEY":   "planted-aws-secret",
		"GITHUB_TOKEN":            "planted-token",
		"SMOKE_TOKEN":             "declared-token",
		"LADDER_TOKEN":            "ldr_plantedtoken",
		"LADDER_TARGET":           "process",
		"LC_ALL":                  "C.UTF-8",
	} {
		t.Setenv(k, v)
	}
	r := newRig(t)
	out := filepath.Join(t.TempDir(), "env.txt")
	test := spec.GateTest{
		Name:    "env",
		Command: []string{"/bin/sh", "-c", "env > " + out},
		Timeout: 10 * time.Second,
		// Declared: one passed on, one set, and a ladder secret that the
		// loader refuses and the runner drops anyway.
		Env: []string{"SMOKE_TOKEN", "GREETING=hello", "LADDER_SIGNING_PASSWORD", "LADDER_TOKEN"},
	}
	vars, err := r.p.testVars(context.Background(), r.snap, "local")
	if err != nil {
		t.Fatal(err)
	}
	vars = append(vars, "WEB_URL=http://127.0.0.1:1234")
	if res := r.p.runTest(context.Background(), test, vars); !res.Passed {
		t.Fatalf("gate test failed: %+v", res)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(strings.TrimSpace(string(data)), "\n")
	for _, planted := range []string{"correct horse", "AGE-SECRET-KEY", "/planted/keys", "planted-aws-secret", "planted-token", "ldr_plantedtoken"} {
		if strings.Contains(string(data), planted) {
			t.Errorf("the gate test saw %q:\n%s", planted, data)
		}
	}
	for _, want := range []string{
		"SMOKE_TOKEN=declared-token", "GREETING=hello", "WEB_URL=http://127.0.0.1:1234",
		"LADDER_SNAPSHOT=" + r.snap.ID, "LADDER_ENVIRONMENT=local", "LADDER_TARGET=process",
		"LC_ALL=C.UTF-8", "PATH=" + os.Getenv("PATH"),
	} {
		if !slices.Contains(env, want) {
			t.Errorf("the gate test did not see %s:\n%s", want, data)
		}
	}
}

func TestTestEnv(t *testing.T) {
	environ := []string{"PATH=/bin", "HOME=/home/a", "AWS_PROFILE=prod", "LADDER_TARGET=process", "LADDER_KEY_DEV=k", "X=1", "LC_TIME=C"}
	got := testEnv(environ, []string{"LADDER_SNAPSHOT=s", "PATH=/provided"}, []string{"X", "Y=2", "MISSING"})
	want := []string{"HOME=/home/a", "LADDER_SNAPSHOT=s", "LADDER_TARGET=process", "LC_TIME=C", "PATH=/provided", "X=1", "Y=2"}
	if !slices.Equal(got, want) {
		t.Errorf("testEnv = %v\nwant      %v", got, want)
	}
}
