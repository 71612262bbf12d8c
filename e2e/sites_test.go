package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/dockertest"
	"github.com/ladderhq/ladder/internal/registrytest"
	"github.com/ladderhq/ladder/internal/store"
)

// dockerOn runs the docker CLI against engine host.
func dockerOn(t *testing.T, host string, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", append([]string{"-H", host}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker -H %s %v: %v\n%s", host, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// siteContainers lists the containers of env/site on engine host.
func siteContainers(t *testing.T, host, env, site string) []string {
	t.Helper()
	return strings.Fields(dockerOn(t, host, "ps", "-aq", "--filter", "label=dev.ladder.environment="+env, "--filter", "label=dev.ladder.site="+site))
}

// TestSitesOnTwoEngines promotes a snapshot to a prod of two sites, one
// on the machine's engine and one on a second engine reached over TCP
// (with TLS) on 127.0.0.1: each site runs on its own engine, its releases
// record which,
// and status, drift, logs and down act on each site where it runs.
func TestSitesOnTwoEngines(t *testing.T) {
	requireDocker(t)
	// The second engine takes TLS with a client certificate only; the
	// site names the files relative to ladder.yaml.
	second := dockertest.StartTLS(t)
	const local = "unix:///var/run/docker.sock"
	src := registrytest.Start(t, nil)
	tag := src.Addr + "/e2e/sites:1"
	registrytest.Push(t, registrytest.Image(t, map[string]string{"www/index.html": "v1", "www/healthz": "ok"}), tag, nil)

	p, _ := newWebImageProject(t, tag, `  prod:
    from: local
    dashboard: 127.0.0.1:0
    sites:
      - name: here
        target: compose
        values: {region: local-1, capacity: 1}
      - name: there
        target:
          kind: compose
          docker:
            host: "`+second.TCP+`"
            tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}
        values: {region: local-2, capacity: 1}
`)
	if err := os.MkdirAll(filepath.Join(p.dir, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"ca.pem": second.TLS.CA, "cert.pem": second.TLS.Cert, "key.pem": second.TLS.Key} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p.write(filepath.Join("certs", name), string(b))
	}

	up := p.upJSON("-d")
	snap := up.Snapshot.ID
	pr, res := p.promote(snap, "prod")
	if res.code != 0 {
		t.Fatalf("promote to prod: %s", res)
	}
	_ = pr

	// Each site runs on its own engine, and only there.
	if got := siteContainers(t, local, "prod", "here"); len(got) != 1 {
		t.Errorf("prod/here on the machine's engine: containers %v, want 1", got)
	}
	if got := siteContainers(t, second.Socket, "prod", "there"); len(got) != 1 {
		t.Errorf("prod/there on the second engine: containers %v, want 1", got)
	}
	if got := siteContainers(t, local, "prod", "there"); len(got) != 0 {
		t.Errorf("prod/there also on the machine's engine: %v", got)
	}
	if got := siteContainers(t, second.Socket, "prod", "here"); len(got) != 0 {
		t.Errorf("prod/here also on the second engine: %v", got)
	}

	// The releases record the kind and the engine.
	hist := p.run("history", "prod", "-o", "json")
	var rels []store.Release
	if err := json.Unmarshal([]byte(hist.stdout), &rels); err != nil || hist.code != 0 {
		t.Fatalf("history prod: %v\n%s", err, hist)
	}
	engines := map[string]string{}
	for _, r := range rels {
		if r.Phase == store.PhaseSucceeded {
			if r.Target != "compose" {
				t.Errorf("release %d of %s recorded target %q, want compose", r.ID, r.Site, r.Target)
			}
			engines[r.Site] = r.Engine
		}
	}
	if engines["here"] != local || engines["there"] != second.TCP {
		t.Errorf("releases recorded engines %v, want here on %s and there on %s", engines, local, second.TCP)
	}

	// status shows both sites healthy, each with its engine.
	st := p.run("status", "--env", "prod", "-o", "json")
	var status api.Status
	if err := json.Unmarshal([]byte(st.stdout), &status); err != nil || st.code != 0 {
		t.Fatalf("status prod: %v\n%s", err, st)
	}
	seen := map[string]string{}
	for _, s := range status.Sites {
		seen[s.Site] = s.Runtime["engine"]
		if len(s.Services) != 1 || s.Services[0].Health != "healthy" {
			t.Errorf("status of prod/%s: %+v, want web healthy", s.Site, s.Services)
		}
	}
	if seen["here"] != local || seen["there"] != second.TCP {
		t.Errorf("status shows engines %v", seen)
	}
	if res := p.run("status", "--env", "prod"); res.code != 0 || !strings.Contains(res.stdout, "prod/there (compose target on "+second.TCP+")") ||
		!strings.Contains(res.stdout, "prod/here (compose target on "+local+")") {
		t.Errorf("status prod does not say where each site runs: %s", res)
	}

	// logs read each site's own engine: a line written in the second
	// engine's container shows for there only.
	id := siteContainers(t, second.Socket, "prod", "there")[0]
	marker := fmt.Sprintf("marker-%s", id[:8])
	dockerOn(t, second.Socket, "exec", id, "/bin/busybox", "sh", "-c", "echo "+marker+" > /proc/1/fd/1")
	eventually(t, 10*time.Second, "the marker in there's logs", func() (bool, string) {
		res := p.run("logs", "--env", "prod", "--site", "there", "--tail", "20")
		return res.code == 0 && strings.Contains(res.stdout, marker), res.String()
	})
	if res := p.run("logs", "--env", "prod", "--site", "here", "--tail", "20"); res.code != 0 || strings.Contains(res.stdout, marker) {
		t.Errorf("logs of prod/here: %s\nwant exit 0 without %s", res, marker)
	}

	// drift compares each site with what its own engine runs.
	if res := p.run("drift", "prod"); res.code != 0 {
		t.Fatalf("drift right after the promotion: %s", res)
	}
	dockerOn(t, second.Socket, "stop", "-t", "1", id)
	res = p.run("drift", "prod", "-o", "json")
	if res.code != 5 {
		t.Fatalf("drift after stopping there's container: %s\nwant exit 5", res)
	}
	var reports []struct {
		Site     string            `json:"site"`
		Services []json.RawMessage `json:"services"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &reports); err != nil {
		t.Fatalf("drift -o json: %v\n%s", err, res)
	}
	drifted := map[string]int{}
	for _, r := range reports {
		drifted[r.Site] = len(r.Services)
	}
	if drifted["here"] != 0 || drifted["there"] != 1 {
		t.Errorf("drift by site %v, want only there drifted\n%s", drifted, res.stdout)
	}

	// down takes each site down on its own engine.
	res = p.run("down", "--env", "prod")
	if res.code != 0 {
		t.Fatalf("down prod: %s", res)
	}
	for _, c := range []struct{ host, site string }{{local, "here"}, {second.Socket, "there"}} {
		if got := siteContainers(t, c.host, "prod", c.site); len(got) != 0 {
			t.Errorf("after down: prod/%s still has containers %v on %s", c.site, got, c.host)
		}
	}

	// With no agent, status looks at each site on its recorded engine.
	res = p.run("status", "--env", "prod", "-o", "json")
	var stopped struct {
		Running bool `json:"running"`
		Sites   []struct {
			Site      string `json:"site"`
			Target    string `json:"target"`
			Engine    string `json:"engine"`
			Instances *int   `json:"instances"`
			Error     string `json:"error"`
		} `json:"sites"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &stopped); err != nil || res.code != 4 || stopped.Running {
		t.Fatalf("status of a stopped prod: %v\n%s\nwant exit 4, not running", err, res)
	}
	got := map[string]string{}
	for _, s := range stopped.Sites {
		if s.Error != "" || s.Instances == nil || *s.Instances != 0 || s.Target != "compose" {
			t.Errorf("stopped status of prod/%s: %+v, want compose with 0 instances", s.Site, s)
		}
		got[s.Site] = s.Engine
	}
	if got["here"] != local || got["there"] != second.TCP {
		t.Errorf("stopped status shows engines %v, want here on %s and there on %s", got, local, second.TCP)
	}
}

// serviceProcess finds the process of service running a binary under the
// project: its PID and the path it was started from.
func serviceProcess(t *testing.T, p *project, service string) (int, string) {
	t.Helper()
	for _, pidStr := range p.leftovers() {
		env, err := os.ReadFile("/proc/" + pidStr + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if kv == "LADDER_SERVICE="+service {
				cmdline, err := os.ReadFile("/proc/" + pidStr + "/cmdline")
				if err != nil {
					continue
				}
				pid, _ := strconv.Atoi(pidStr)
				return pid, strings.SplitN(string(cmdline), "\x00", 2)[0]
			}
		}
	}
	t.Fatalf("no process of %s runs", service)
	return 0, ""
}

// TestDriftProcessBinaryReplaced: on the process target, a binary swapped
// on disk under a running instance (a hotfix copied into place) is drift,
// reported by `ladder drift` from another process than the agent's.
func TestDriftProcessBinaryReplaced(t *testing.T) {
	p := newProject(t)
	p.upJSON("-d", "--dashboard", "127.0.0.1:0")
	if res := p.run("drift"); res.code != 0 {
		t.Fatalf("drift right after up: %s", res)
	}
	_, bin := serviceProcess(t, p, "users")
	if !filepath.IsAbs(bin) || !strings.HasPrefix(bin, p.root) {
		t.Fatalf("users runs %q, not a binary under the project", bin)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bin, bin+".orig"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	res := p.run("drift")
	if res.code != 5 || !strings.Contains(res.stdout, "users") || !strings.Contains(res.stdout, "binary") || !strings.Contains(res.stdout, "replaced on disk: "+bin) {
		t.Fatalf("drift after replacing users' binary: %s\nwant exit 5 naming users' binary as replaced", res)
	}
	for _, svc := range []string{"web", "trades"} {
		if strings.Contains(res.stdout, "\n"+svc+"\n") {
			t.Errorf("drift reports %s too:\n%s", svc, res.stdout)
		}
	}
	// Putting the original file back ends the drift.
	if err := os.Rename(bin+".orig", bin); err != nil {
		t.Fatal(err)
	}
	if res := p.run("drift"); res.code != 0 {
		t.Errorf("drift with the original binary back: %s", res)
	}
}

// TestSiteOverSSH promotes to a site whose engine is reached over ssh
// (docker host ssh://USER@HOST:PORT), the way a team reaches a remote
// Docker host: the deploy, status, logs, drift and down all go through
// the ssh connection to the second engine, and nothing of the site runs
// on the machine's own engine.
func TestSiteOverSSH(t *testing.T) {
	requireDocker(t)
	second := dockertest.Start(t)
	remote := second.ServeSSH(t)
	const local = "unix:///var/run/docker.sock"
	src := registrytest.Start(t, nil)
	tag := src.Addr + "/e2e/ssh:1"
	registrytest.Push(t, registrytest.Image(t, map[string]string{"www/index.html": "over ssh", "www/healthz": "ok"}), tag, nil)

	p, _ := newWebImageProject(t, tag, `  prod:
    from: local
    dashboard: 127.0.0.1:0
    sites:
      - name: far
        target:
          kind: compose
          docker: {host: "`+remote.Host+`"}
`)
	// The ssh command that knows the key comes first on ladder's PATH.
	p.env = append(p.env, "PATH="+remote.PathDir+string(os.PathListSeparator)+os.Getenv("PATH"))

	snap := p.upJSON("-d").Snapshot.ID
	if _, res := p.promote(snap, "prod"); res.code != 0 {
		t.Fatalf("promote to prod over ssh: %s\nsshd:\n%s", res, remote.Log())
	}
	if got := siteContainers(t, second.Socket, "prod", "far"); len(got) != 1 {
		t.Errorf("prod/far on the engine behind ssh: containers %v, want 1", got)
	}
	if got := siteContainers(t, local, "prod", "far"); len(got) != 0 {
		t.Errorf("prod/far on the machine's engine: %v", got)
	}
	if remote.Used() == 0 || !strings.Contains(remote.Log(), "Accepted publickey") {
		t.Fatalf("the deploy did not go through ssh: %d uses\nsshd:\n%s", remote.Used(), remote.Log())
	}
	if res := p.run("status", "--env", "prod"); res.code != 0 || !strings.Contains(res.stdout, "prod/far (compose target on "+remote.Host+")") || !strings.Contains(res.stdout, "healthy") {
		t.Errorf("status prod over ssh: %s", res)
	}
	if res := p.run("drift", "prod"); res.code != 0 {
		t.Errorf("drift over ssh right after the promotion: %s", res)
	}
	id := siteContainers(t, second.Socket, "prod", "far")[0]
	marker := "marker-" + id[:8]
	dockerOn(t, second.Socket, "exec", id, "/bin/busybox", "sh", "-c", "echo "+marker+" > /proc/1/fd/1")
	eventually(t, 10*time.Second, "the marker in far's logs, read over ssh", func() (bool, string) {
		res := p.run("logs", "--env", "prod", "--tail", "20")
		return res.code == 0 && strings.Contains(res.stdout, marker), res.String()
	})
	if res := p.run("down", "--env", "prod"); res.code != 0 {
		t.Fatalf("down prod over ssh: %s", res)
	}
	if got := siteContainers(t, second.Socket, "prod", "far"); len(got) != 0 {
		t.Errorf("after down: prod/far still has containers %v behind ssh", got)
	}
}
