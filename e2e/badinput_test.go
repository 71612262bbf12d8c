package e2e

import (
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/registrytest"
)

// Bad input that has no test elsewhere: each is a configuration error
// (exit 2) that names what is wrong and where, found by validate where it
// can be, before anything is built or started.
func TestBadInputIsAConfigError(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		args    []string
		want    []string
		needsBK bool
	}{{
		name: "unknown build target stage",
		files: map[string]string{
			"compose.yaml":   "name: badtarget\nservices:\n  api:\n    build:\n      context: ./api\n      target: relase\n",
			"api/Dockerfile": "FROM scratch AS build\nFROM build AS release\n",
		},
		args: []string{"validate"},
		want: []string{`compose.yaml:6:7: services.api.build.target: build target "relase" is not a stage of api/Dockerfile (its stages: build, release)`},
	}, {
		name: "secret from an unset variable",
		files: map[string]string{
			"compose.yaml": "name: badsecret\nservices:\n  app:\n    image: ladder.local/busybox:static\n    secrets: [token]\n" +
				"secrets:\n  token:\n    environment: CORPUS_UNSET_TOKEN\n",
		},
		args: []string{"validate"},
		want: []string{"compose.yaml:8:5: secrets.token.environment: CORPUS_UNSET_TOKEN is neither set (in the environment or .env) nor a ladder secret of local (ladder secret set local CORPUS_UNSET_TOKEN)"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := &project{t: t, root: dir, dir: dir, kind: "compose", env: []string{"LADDER_TARGET=compose"}}
			for name, content := range tc.files {
				if i := strings.LastIndex(name, "/"); i > 0 {
					mkdirAll(t, dir+"/"+name[:i])
				}
				p.write(name, content)
			}
			res := p.run(tc.args...)
			if res.code != 2 {
				t.Errorf("ladder %v: %s\nwant exit 2", tc.args, res)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("ladder %v does not say %q:\n%s", tc.args, w, res)
				}
			}
		})
	}
}

// A registry that refuses the user's credentials: up exits 2, says to log
// in to that registry, and never shows a password.
func TestRegistryUnauthorizedIsAConfigError(t *testing.T) {
	requireDocker(t)
	auth := &registrytest.Auth{User: "ladder", Password: "corpus-s3cret"}
	reg := registrytest.Start(t, auth)
	ref := reg.Addr + "/private/app:1"
	registrytest.Push(t, registrytest.Image(t, nil), ref, auth)
	p, _ := newImageProject(t, "services:\n  app:\n    image: "+ref+"\n", "environments:\n  local:\n    target: compose\n    dashboard: 127.0.0.1:0\n")
	res := p.run("up", "-d")
	if res.code != 2 || !strings.Contains(res.stderr, ref) || !strings.Contains(res.stderr, "docker login "+reg.Addr) {
		t.Errorf("up of an image behind credentials: %s\nwant exit 2 naming %s and docker login", res, ref)
	}
	if strings.Contains(res.stdout+res.stderr, auth.Password) {
		t.Errorf("the output shows the password: %s", res)
	}
}
