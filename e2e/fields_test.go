package e2e

import (
	"strings"
	"testing"
)

// fieldsCompose is the demo's users service with fields the process
// target cannot apply, a CMD-SHELL health check that only passes in the
// service's own environment, and a service behind a profile.
const fieldsCompose = `name: fields
services:
  users:
    build: ./services/users
    ports: ["8080"]
    environment: {SEED: "42"}
    cap_add: [NET_ADMIN]
    read_only: true
    healthcheck:
      test: ["CMD-SHELL", "test \"$$SEED\" = 42 && test \"$$LADDER_SERVICE\" = users"]
      interval: 1s
  debug:
    build: ./services/users
    profiles: [debug]
`

// validate refuses what no target can honour (exit 2, every problem at
// its position), warns about what the chosen target does not apply, and
// handles profiles; up prints the same warnings and runs the stack, its
// shell health check passing in the service's environment.
func TestFieldsValidateAndUp(t *testing.T) {
	p := newProject(t)
	p.write("compose.yaml", strings.Replace(fieldsCompose, "    read_only: true\n",
		"    read_only: true\n    userns_mode: host\n    devices: [/dev/fuse]\n", 1))
	res := p.run("validate")
	if res.code != 2 || !strings.Contains(res.stderr, "compose.yaml:9:5: services.users.userns_mode: not supported by ladder") ||
		!strings.Contains(res.stderr, "compose.yaml:10:5: services.users.devices: not supported by ladder") {
		t.Fatalf("validate with refused fields: %s", res)
	}
	if res := p.run("up", "-d", "--dashboard", "127.0.0.1:0"); res.code != 2 || !strings.Contains(res.stderr, "userns_mode") {
		t.Fatalf("up with refused fields must refuse before building: %s", res)
	}

	// A Go build (no Dockerfile) with a field only Dockerfiles read.
	p.write("compose.yaml", strings.Replace(fieldsCompose, "    build: ./services/users\n    ports:",
		"    build:\n      context: ./services/users\n      args: {VERSION: \"2\"}\n    ports:", 1))
	if res := p.run("validate"); res.code != 2 || !strings.Contains(res.stderr, "compose.yaml:6:7: services.users.build.args: build.args applies to Dockerfile builds, and ./services/users has no Dockerfile") {
		t.Errorf("validate with build args on a Go build: %s", res)
	}

	p.write("compose.yaml", fieldsCompose)
	res = p.run("validate", "--target", "process")
	warn := "compose.yaml:7:5: warning: services.users.cap_add: not applied on the process target"
	if res.code != 0 || !strings.Contains(res.stderr, warn) || !strings.Contains(res.stderr, "services.users.read_only") {
		t.Fatalf("validate --target process: %s", res)
	}
	if !strings.Contains(res.stdout, "with 1 service;") || !strings.Contains(res.stdout, "not running, their profiles are inactive (--profile or COMPOSE_PROFILES): debug (debug)") {
		t.Errorf("inactive profile not reported: %s", res)
	}
	if res := p.run("validate", "--target", "compose"); res.code != 0 || strings.Contains(res.stderr, "cap_add") {
		t.Errorf("validate --target compose warns about a field it applies: %s", res)
	}
	if res := p.run("validate", "--profile", "debug"); res.code != 0 || !strings.Contains(res.stdout, "with 2 services") {
		t.Errorf("validate --profile debug: %s", res)
	}
	if res := p.run("validate", "--profile", "debgu"); res.code != 2 || !strings.Contains(res.stderr, `profile "debgu"`) || !strings.Contains(res.stderr, `did you mean "debug"?`) {
		t.Errorf("validate with an unknown profile: %s", res)
	}

	res = p.run("up", "-d", "--dashboard", "127.0.0.1:0")
	if res.code != 0 {
		t.Fatalf("up: %s", res)
	}
	if !strings.Contains(res.stderr, warn) {
		t.Errorf("up does not print the process target's warnings: %s", res)
	}
	if !strings.Contains(res.stdout, "users") || !strings.Contains(res.stdout, "healthy") {
		t.Errorf("up: %s", res)
	}
}
