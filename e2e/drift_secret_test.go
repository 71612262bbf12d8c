package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
)

// TestDriftComparesSecretsByFingerprint runs a stack with a secret on the
// compose target: `ladder drift` finds no drift (it used to report every
// secret as changed, comparing placeholders with the real values). Then
// the users container is recreated by hand with another value of the
// secret: drift reports that variable, and shows neither value.
func TestDriftComparesSecretsByFingerprint(t *testing.T) {
	requireDocker(t)
	const secret, other = "5550123987", "7770456123"
	p := newProjectOn(t, "compose")
	p.write("ladder.yaml", "stack: compose.yaml\nenvironments:\n  local:\n    target: auto\n    telemetry: {interval: 1s}\n"+
		"    values:\n      services:\n        users:\n          secrets: {SEED: USERS_SEED}\n")
	set := exec.Command(ladderBin, "-C", p.dir, "secret", "set", "local", "USERS_SEED")
	set.Env = append(os.Environ(), p.env...)
	set.Stdin = strings.NewReader(secret + "\n")
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
	up := p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	project := up.Status.Sites[0].Runtime["project"]

	res := p.run("drift")
	if res.code != 0 || !strings.Contains(res.stdout, "no drift") {
		t.Fatalf("drift right after up with a secret: %s", res)
	}

	// By hand: the same container, another value of the secret.
	ctx := context.Background()
	eng, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	id := containerOf(t, project, "users")
	info, err := eng.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	changed := false
	for i, kv := range info.Config.Env {
		if kv == "SEED="+secret {
			info.Config.Env[i] = "SEED=" + other
			changed = true
		}
	}
	if !changed {
		t.Fatalf("the users container has no SEED=<the secret> in its environment")
	}
	name := strings.TrimPrefix(info.Name, "/")
	nets := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{}}
	for n, ep := range info.NetworkSettings.Networks {
		nets.EndpointsConfig[n] = &network.EndpointSettings{Aliases: ep.Aliases}
	}
	if err := eng.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	created, err := eng.ContainerCreate(ctx, info.Config, info.HostConfig, nets, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}

	res = p.run("drift")
	if res.code != 5 || !strings.Contains(res.stdout, "SEED") || !strings.Contains(res.stdout, "<redacted>") {
		t.Errorf("drift after the secret changed in the container: want SEED reported, exit 5: %s", res)
	}
	json := p.run("drift", "-o", "json")
	for _, out := range []string{res.stdout, res.stderr, json.stdout, json.stderr} {
		for _, v := range []string{secret, other, "hmac-sha256"} {
			if strings.Contains(out, v) {
				t.Errorf("drift output shows %q:\n%s", v, out)
			}
		}
	}
	if strings.Count(res.stdout, "\n") > 4 {
		t.Errorf("drift reports more than the secret:\n%s", res.stdout)
	}
}
