package render

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/spec"
)

const rungsCompose = `name: rungs
services:
  api:
    build: ./api
    ports: ["8080"]
    environment:
      MODE: fast
    depends_on:
      migrate: {condition: service_completed_successfully}
      cache: {condition: service_started}
  migrate:
    build: ./migrate
    x-ladder: {job: migration}
  cache:
    build: ./cache
    x-ladder: {tier: standard}
  search:
    build: ./search
    x-ladder: {tier: full}
`

const rungsLadder = `environments:
  local:
    values:
      tier: standard
  prod:
    from: local
    values:
      services:
        api:
          replicas: 3
          resources: {cpus: "1.5", memory: 512m}
          environment: {FEATURE: "on"}
          secrets:
            DB_PASSWORD: PROD_DB_PASSWORD
            STRIPE_KEY: PROD_STRIPE_KEY
  lite:
    values:
      tier: lite
`

func rungsProject(t *testing.T) *spec.Project {
	return writeProject(t, map[string]string{"compose.yaml": rungsCompose, "ladder.yaml": rungsLadder})
}

func prodSecrets(name string) (string, error) {
	switch name {
	case "PROD_DB_PASSWORD":
		return "hunter22", nil
	case "PROD_STRIPE_KEY":
		return "sk_live_abcdef", nil
	}
	return "", errors.New("not set")
}

func TestRenderRungsGolden(t *testing.T) {
	p := rungsProject(t)
	snap := snapshotFor(p, nil)
	d, err := RenderWith(p, "prod", "default", snap, fakeImages, Options{Secrets: prodSecrets})
	if err != nil {
		t.Fatal(err)
	}
	got := d.String()
	checkGolden(t, "rungs_prod", got)
	if strings.Contains(got, "hunter22") || strings.Contains(got, "sk_live") {
		t.Fatalf("a secret value is printed:\n%s", got)
	}
	local := mustRender(t, p, "local", "default", snap, fakeImages)
	checkGolden(t, "rungs_local", local.String())
}

func TestRenderSecrets(t *testing.T) {
	p := rungsProject(t)
	snap := snapshotFor(p, nil)
	d, err := RenderWith(p, "prod", "default", snap, fakeImages, Options{Secrets: prodSecrets})
	if err != nil {
		t.Fatal(err)
	}
	api, _ := d.Service("api")
	if api.Environment["DB_PASSWORD"] != "hunter22" || api.Environment["STRIPE_KEY"] != "sk_live_abcdef" {
		t.Errorf("secrets not injected: %v", api.Environment)
	}
	if want := []string{"DB_PASSWORD", "STRIPE_KEY"}; !slices.Equal(api.SecretEnv, want) {
		t.Errorf("SecretEnv = %v, want %v", api.SecretEnv, want)
	}
	if !api.Secret("DB_PASSWORD") || api.Secret("FEATURE") || api.Secret("MODE") {
		t.Errorf("Secret(): DB_PASSWORD=%v FEATURE=%v MODE=%v", api.Secret("DB_PASSWORD"), api.Secret("FEATURE"), api.Secret("MODE"))
	}
	if api.Resources == nil || *api.Resources != (Resources{CPUs: "1.5", Memory: "512m"}) || api.Replicas != 3 {
		t.Errorf("resources %+v replicas %d", api.Resources, api.Replicas)
	}

	// Without secrets (Render), placeholders stand in; Config is the same
	// either way, and does not depend on the secret values.
	plain := mustRender(t, p, "prod", "default", snap, fakeImages)
	papi, _ := plain.Service("api")
	if papi.Environment["DB_PASSWORD"] != "<secret PROD_DB_PASSWORD>" || !slices.Equal(papi.SecretEnv, api.SecretEnv) {
		t.Errorf("placeholder render: env %v secretEnv %v", papi.Environment, papi.SecretEnv)
	}
	if papi.Config != api.Config {
		t.Errorf("Config depends on secret values: %s vs %s", papi.Config, api.Config)
	}
	rotated, err := RenderWith(p, "prod", "default", snap, fakeImages, Options{Secrets: func(string) (string, error) { return "other", nil }})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := rotated.Service("api"); r.Config != api.Config {
		t.Errorf("Config changed with a rotated secret")
	}
	b, _ := json.Marshal(api)
	if !strings.Contains(string(b), `"secretEnv":["DB_PASSWORD","STRIPE_KEY"]`) {
		t.Errorf("JSON lacks secretEnv: %s", b)
	}

	// A missing secret names the environment and the secret.
	_, err = RenderWith(p, "prod", "default", snap, fakeImages, Options{Secrets: func(name string) (string, error) {
		if name == "PROD_STRIPE_KEY" {
			return "", errors.New("not set")
		}
		return "x", nil
	}})
	want := `service "api": secret PROD_STRIPE_KEY (for STRIPE_KEY) is not available in environment prod: not set`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestRenderTiers(t *testing.T) {
	p := rungsProject(t)
	snap := snapshotFor(p, nil)
	names := func(d *Desired) string {
		var n []string
		for _, s := range d.Services {
			n = append(n, s.Name)
		}
		return strings.Join(n, " ")
	}
	if got := names(mustRender(t, p, "prod", "default", snap, fakeImages)); got != "cache migrate api search" {
		t.Errorf("full tier runs %s", got)
	}
	if got := names(mustRender(t, p, "local", "default", snap, fakeImages)); got != "cache migrate api" {
		t.Errorf("standard tier runs %s", got)
	}
	_, err := Render(p, "lite", "default", snap, fakeImages)
	want := `service "api" depends on "cache", which does not run on lite: its x-ladder.tier is standard, above the environment's tier lite`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestRenderJob(t *testing.T) {
	p := writeProject(t, map[string]string{"compose.yaml": `name: j
services:
  seed:
    build: ./seed
    x-ladder: {job: seed}
  api:
    build: ./api
`})
	d := mustRender(t, p, "local", "default", snapshotFor(p, nil), fakeImages)
	seed, _ := d.Service("seed")
	if seed.Job != spec.JobSeed || !d.Job("seed") || d.Job("api") {
		t.Errorf("seed.Job=%q Job(seed)=%v Job(api)=%v", seed.Job, d.Job("seed"), d.Job("api"))
	}
	notJob := *seed
	notJob.Job = ""
	if seed.Config == ConfigHash(notJob) {
		t.Errorf("Job is not part of Config")
	}
}

func TestComposeFileResources(t *testing.T) {
	p := rungsProject(t)
	d, err := RenderWith(p, "prod", "default", snapshotFor(p, nil), fakeImages, Options{Secrets: prodSecrets})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ComposeFile(d, func(s, dg string) string { return s }, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cpus: 1.5", "mem_limit: 512m", "DB_PASSWORD: ${DB_PASSWORD}"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("compose file lacks %q:\n%s", want, out)
		}
	}
	// Secrets are never written to disk: the file refers to them.
	if strings.Contains(string(out), "hunter22") {
		t.Errorf("the compose file contains a secret value:\n%s", out)
	}
}
