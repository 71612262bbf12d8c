package compose_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/target"
	"github.com/ladderhq/ladder/internal/target/compose"
)

// busyboxImage is a FROM-scratch image holding Debian's static busybox
// (package busybox-static, which scripts/test.sh installs) as /bin/sh and
// a few applets, labelled as an image would be: built here, never pulled.
func busyboxImage(t *testing.T) v1.Image {
	t.Helper()
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("static busybox missing (apt-get install busybox-static): %v", err)
		}
		t.Skipf("static busybox missing (apt-get install busybox-static): %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) {
		_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode})
	}
	dir("bin/", 0o755)
	dir("tmp/", 0o1777)
	dir("run/", 0o755)
	_ = tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))})
	_, _ = tw.Write(bin)
	for _, applet := range []string{"sh", "cat", "sleep", "touch", "test", "stat", "id"} {
		_ = tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.Env = []string{"PATH=/bin"}
	cfg.Entrypoint = []string{"/bin/sh", "-c"}
	cfg.Cmd = []string{"touch /tmp/ready && exec sleep 3600"}
	cfg.Labels = map[string]string{"org.opencontainers.image.title": "fields-busybox"}
	img, err = mutate.Config(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// freePorts finds n consecutive free TCP ports below the ephemeral range.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	start := 20000 + int(time.Now().UnixNano()%9000)
	for base := start; base < start+2000; base += n {
		ok := true
		for p := base; p < base+n && ok; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
			if err != nil {
				ok = false
				continue
			}
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

// fieldsStack uses every Compose field the compose target applies, on
// two services: one gets its secrets copied in, the other has a
// read-only root and gets them as read-only files.
const fieldsStack = `services:
  api:
    build: ./api
    user: "1000:1000"
    hostname: api-host
    domainname: example.test
    labels: {team: core}
    stop_signal: SIGINT
    stop_grace_period: 3s
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    security_opt: ["no-new-privileges:true"]
    sysctls: {net.core.somaxconn: "1024"}
    ulimits: {nofile: {soft: 1024, hard: 2048}}
    extra_hosts: ["db.local:10.0.0.2"]
    shm_size: 32m
    init: true
    mem_limit: 64m
    mem_reservation: 32m
    cpus: 0.5
    cpu_shares: 512
    pids_limit: 100
    oom_score_adj: 100
    dns_search: [example.test]
    group_add: ["2000"]
    expose: ["9000"]
    tty: true
    stdin_open: true
    logging: {driver: json-file, options: {max-size: 1m}}
    ports:
      - "${P0}-${P2}:80-82"
      - "127.0.0.1:${P3}:9100"
      - "${P4}-${P5}:70"
    networks:
      front: {aliases: [api-front]}
      back: {}
    secrets:
      - token
      - {source: db_password, target: db.pass, uid: "1000", gid: "1000", mode: 0400}
    configs:
      - {source: app_config, target: /etc/app/config.toml}
    healthcheck:
      test: ["CMD-SHELL", "cat /run/secrets/db.pass >/dev/null && test -f /tmp/ready && test \"$$LADDER_SERVICE\" = api"]
      interval: 1s
      timeout: 2s
      retries: 30
  ro:
    build: ./ro
    read_only: true
    tmpfs: [/tmp]
    secrets: [token]
    deploy:
      resources:
        limits: {cpus: "0.25", memory: 48m, pids: 50}
    healthcheck:
      test: ["CMD-SHELL", "cat /run/secrets/token >/dev/null && test -f /tmp/ready"]
      interval: 1s
      retries: 30
networks:
  front: {}
  back: {internal: true, labels: {tier: back}}
secrets:
  token:
    file: ./token.txt
  db_password:
    environment: DB_PASSWORD
configs:
  app_config:
    content: |
      listen = ":80"
`

func TestEveryFieldReachesTheEngine(t *testing.T) {
	eng := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	img := busyboxImage(t)
	dg, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	digest := dg.String()
	images := func(d string) (v1.Image, error) {
		if d != digest {
			return nil, errors.New("no such artifact")
		}
		return img, nil
	}

	base := freePorts(t, 6)
	dir := filepath.Join(t.TempDir(), "fields")
	for name, content := range map[string]string{"compose.yaml": fieldsStack, "token.txt": "tok-123\n", "api/x": "", "ro/x": ""} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{}
	for i := range 6 {
		env = append(env, fmt.Sprintf("P%d=%d", i, base+i))
	}
	stack := uniqueStack("fields")
	env = append(env, "COMPOSE_PROJECT_NAME="+stack)
	p, err := spec.Load(ctx, dir, spec.LoadOptions{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	arts := map[string]snapshot.Artifact{}
	for _, s := range []string{"api", "ro"} {
		arts[s] = snapshot.Artifact{Service: s, Digest: digest, Builder: "test"}
	}
	snap := snapshot.New(stack, p.Stack.Hash, arts, "", time.Now())
	secretValues := map[string]string{"DB_PASSWORD": "pw-from-ladder"}
	d, err := render.RenderWith(p, "local", "default", snap, render.FromImages(images), render.Options{
		Secrets: func(name string) (string, error) {
			if v, ok := secretValues[name]; ok {
				return v, nil
			}
			return "", fmt.Errorf("%w: %s", render.ErrSecretNotSet, name)
		},
		ReadFile: os.ReadFile, LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		t.Fatal(err)
	}

	tgt := compose.New(compose.Options{Engine: eng, Stack: stack, Images: images, ComposeDir: t.TempDir()})
	site := d.SiteRef
	t.Cleanup(func() {
		downCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = tgt.Down(downCtx, site, target.DownOptions{Volumes: true})
	})
	obs, err := tgt.Observe(ctx, site)
	if err != nil {
		t.Fatal(err)
	}
	if err := tgt.Apply(ctx, d, plan.Compute(d, obs), target.ApplyOptions{HealthTimeout: 60 * time.Second}); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	project := compose.ProjectName(stack, site)
	// The deploy is done once ladder's own prompt check of the healthcheck
	// command passed; the engine's check (every 1s) follows.
	api := dockerHealthy(t, ctx, eng, project, "api")
	ro := dockerHealthy(t, ctx, eng, project, "ro")

	// Field by field, what docker compose applies for the same file.
	type check struct {
		field     string
		got, want any
	}
	hc := api.HostConfig
	bindings := map[string]string{}
	for port, bs := range hc.PortBindings {
		for _, b := range bs {
			bindings[string(port)] = b.HostIP + ":" + b.HostPort
		}
	}
	apiNets := []string{}
	var frontAliases []string
	for n, ep := range api.NetworkSettings.Networks {
		apiNets = append(apiNets, n)
		if n == project+"_front" {
			frontAliases = ep.Aliases
		}
	}
	sort.Strings(apiNets)
	ulimit := ""
	for _, u := range hc.Ulimits {
		ulimit += fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard)
	}
	checks := []check{
		{"user", api.Config.User, "1000:1000"},
		{"hostname", api.Config.Hostname, "api-host"},
		{"domainname", api.Config.Domainname, "example.test"},
		{"labels.team", api.Config.Labels["team"], "core"},
		{"image label kept", api.Config.Labels["org.opencontainers.image.title"], "fields-busybox"},
		{"stop_signal", api.Config.StopSignal, "SIGINT"},
		{"tty", api.Config.Tty, true},
		{"stdin_open", api.Config.OpenStdin, true},
		{"expose", hasKey(api.Config.ExposedPorts, "9000/tcp"), true},
		{"healthcheck CMD-SHELL", api.Config.Healthcheck.Test[0], "CMD-SHELL"},
		{"cap_add", normCaps(hc.CapAdd), []string{"CAP_NET_ADMIN"}},
		{"cap_drop", normCaps(hc.CapDrop), []string{"CAP_MKNOD"}},
		{"security_opt", []string(hc.SecurityOpt), []string{"no-new-privileges:true"}},
		{"sysctls", hc.Sysctls["net.core.somaxconn"], "1024"},
		{"ulimits", ulimit, "nofile=1024:2048"},
		{"extra_hosts", []string(hc.ExtraHosts), []string{"db.local:10.0.0.2"}},
		{"shm_size", hc.ShmSize, int64(32 << 20)},
		{"init", hc.Init != nil && *hc.Init, true},
		{"mem_limit", hc.Memory, int64(64 << 20)},
		{"mem_reservation", hc.MemoryReservation, int64(32 << 20)},
		{"cpus", hc.NanoCPUs, int64(500_000_000)},
		{"cpu_shares", hc.CPUShares, int64(512)},
		{"pids_limit", *hc.PidsLimit, int64(100)},
		{"oom_score_adj", hc.OomScoreAdj, 100},
		{"dns_search", []string(hc.DNSSearch), []string{"example.test"}},
		{"group_add", []string(hc.GroupAdd), []string{"2000"}},
		{"logging", hc.LogConfig.Type + " " + hc.LogConfig.Config["max-size"], "json-file 1m"},
		{"stop_grace_period", api.Config.StopTimeout != nil && *api.Config.StopTimeout == 3, true},
		{"port range 80", bindings["80/tcp"], fmt.Sprintf(":%d", base)},
		{"port range 82", bindings["82/tcp"], fmt.Sprintf(":%d", base+2)},
		{"port host_ip", bindings["9100/tcp"], fmt.Sprintf("127.0.0.1:%d", base+3)},
		{"host port range", bindings["70/tcp"], fmt.Sprintf(":%d-%d", base+4, base+5)},
		{"networks", apiNets, []string{project + "_back", project + "_front"}},
		{"network alias", slices.Contains(frontAliases, "api-front") && slices.Contains(frontAliases, "api"), true},
		{"read_only (ro)", ro.HostConfig.ReadonlyRootfs, true},
		{"tmpfs (ro)", hasKey(ro.HostConfig.Tmpfs, "/tmp"), true},
		{"deploy limits memory (ro)", ro.HostConfig.Memory, int64(48 << 20)},
		{"deploy limits cpus (ro)", ro.HostConfig.NanoCPUs, int64(250_000_000)},
		{"deploy limits pids (ro)", *ro.HostConfig.PidsLimit, int64(50)},
		{"healthy (api)", api.State.Health.Status, "healthy"},
		{"healthy (ro)", ro.State.Health.Status, "healthy"},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s: engine has %v, want %v", c.field, c.got, c.want)
		}
	}

	// Secrets and configs: content, owner and mode inside the container.
	files := []struct {
		id, path, content string
		mode              int64
		uid               int
	}{
		{api.ID, "/run/secrets/token", "tok-123\n", 0o444, 0},
		{api.ID, "/run/secrets/db.pass", "pw-from-ladder", 0o400, 1000},
		{api.ID, "/etc/app/config.toml", "listen = \":80\"\n", 0o444, 0},
		{ro.ID, "/run/secrets/token", "tok-123\n", 0o444, -1},
	}
	for _, f := range files {
		hdr, content := copyOut(t, ctx, eng, f.id, f.path)
		if content != f.content || hdr.Mode&0o777 != f.mode || (f.uid >= 0 && hdr.Uid != f.uid) {
			t.Errorf("%s: content %q mode %o uid %d, want %q %o %d", f.path, content, hdr.Mode&0o777, hdr.Uid, f.content, f.mode, f.uid)
		}
	}
	// The read-only container's files live in a directory only this user
	// can enter, and nothing of a secret is in the Compose file.
	dirs, _ := filepath.Glob(filepath.Join(filepath.Dir(tgt.ComposeFilePath(site)), "files", "*"))
	if len(dirs) != 1 {
		t.Errorf("file directories %v, want one, the read-only container's", dirs)
	}
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want mode 0700", dir, fi.Mode(), err)
		}
	}
	b, err := os.ReadFile(tgt.ComposeFilePath(site))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "pw-from-ladder") || strings.Contains(string(b), "tok-123") {
		t.Error("a secret's value is in the site's Compose file")
	}

	// Drift reads it all back and finds nothing to report.
	live, err := tgt.Inspect(ctx, site)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := render.Render(p, "local", "default", snap, render.FromImages(images))
	if err != nil {
		t.Fatal(err)
	}
	if r := drift.Compare(plain, live, drift.Options{ImageID: render.ImageIDs(images)}); r.Drifted() {
		t.Errorf("drift right after the release:\n%s", r)
	}
}

func hasKey[V any, K ~string](m map[K]V, k string) bool {
	_, ok := m[K(k)]
	return ok
}

func normCaps(l []string) []string {
	out := []string{}
	for _, c := range l {
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// dockerHealthy inspects a service's container once the engine's own
// healthcheck has left "starting", within 30 seconds.
func dockerHealthy(t *testing.T, ctx context.Context, eng *client.Client, project, service string) container.InspectResponse {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		info := inspectService(t, ctx, eng, project, service)
		if h := info.State.Health; h == nil || h.Status != "starting" || time.Now().After(deadline) {
			return info
		}
	}
}

func inspectService(t *testing.T, ctx context.Context, eng *client.Client, project, service string) container.InspectResponse {
	t.Helper()
	cs, err := eng.ContainerList(ctx, container.ListOptions{All: true, Filters: compose.ProjectFilter(project)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Labels["com.docker.compose.service"] == service {
			info, err := eng.ContainerInspect(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return info
		}
	}
	t.Fatalf("no container of %s in %s", service, project)
	return container.InspectResponse{}
}

func copyOut(t *testing.T, ctx context.Context, eng *client.Client, id, path string) (*tar.Header, string) {
	t.Helper()
	rc, _, err := eng.CopyFromContainer(ctx, id, path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return &tar.Header{}, ""
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return &tar.Header{}, ""
	}
	b, _ := io.ReadAll(tr)
	return hdr, string(b)
}
