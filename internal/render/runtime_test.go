package render

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// fieldsCompose uses every Compose field the compose target applies.
const fieldsCompose = `name: fields
services:
  api:
    build: ./api
    user: "1000:1000"
    hostname: api-host
    domainname: example.test
    container_name: fields-api
    labels:
      team: core
      com.example.tier: backend
    stop_signal: SIGINT
    stop_grace_period: 3s
    read_only: true
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    sysctls: {net.core.somaxconn: "1024"}
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    extra_hosts: ["db.local:10.0.0.2", "cache.local=10.0.0.3"]
    tmpfs: [/tmp, "/run/app:size=1m"]
    shm_size: 64m
    init: true
    mem_limit: 128m
    mem_reservation: 64m
    memswap_limit: 256m
    cpus: 0.5
    cpu_shares: 512
    pids_limit: 100
    oom_score_adj: 100
    dns: [10.0.0.53]
    dns_search: [example.test]
    group_add: ["2000"]
    expose: ["9000"]
    privileged: false
    tty: true
    stdin_open: true
    logging: {driver: json-file, options: {max-size: 1m}}
    ports:
      - "8000-8002:80-82"
      - "127.0.0.1:9100:9100"
      - "7000-7005:70"
    networks:
      front:
        aliases: [api-front]
      back: {}
    secrets:
      - token
      - source: db_password
        target: db.pass
        uid: "1000"
        gid: "1000"
        mode: 0400
    configs:
      - source: app_config
        target: /etc/app/config.toml
    healthcheck:
      test: ["CMD-SHELL", "test -f /tmp/ready && echo $$HOME"]
      interval: 2s
  worker:
    build: ./worker
    network_mode: host
    pid: host
    ipc: host
    deploy:
      restart_policy: {condition: on-failure, max_attempts: 3}
      resources:
        limits: {cpus: "0.25", memory: 32m, pids: 50}
        reservations: {memory: 16m}
networks:
  front: {}
  back: {internal: true}
secrets:
  token:
    file: ./token.txt
  db_password:
    environment: DB_PASSWORD
    x-ladder-secret: PROD_DB_PASSWORD
configs:
  app_config:
    content: |
      listen = ":80"
`

func fieldsProject(t *testing.T) *Desired {
	t.Helper()
	p := writeProject(t, map[string]string{"compose.yaml": fieldsCompose, "token.txt": "s3cr3t-token\n"})
	return mustRender(t, p, "local", "default", snapshotFor(p, nil), fakeImages)
}

func TestRenderFieldsGolden(t *testing.T) {
	d := fieldsProject(t)
	checkGolden(t, "fields", d.String())
	out, err := ComposeFile(d, func(service, digest string) string { return "fields-" + service + ":ladder-" + digest[7:19] }, "/srv/fields")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "fields.compose.yml", string(out))
	var doc map[string]any
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("the compose file is not YAML: %v", err)
	}
	// A render without loaders never holds content, so nothing secret can
	// reach a golden file, a diff or a drift report.
	for _, s := range d.Services {
		for _, f := range s.Files {
			if f.Content != nil {
				t.Errorf("%s %s has content in a render that does not deploy", f.Kind, f.Name)
			}
		}
	}
}

// A deploy's render loads every file: a file source from disk, content
// from the stack, an environment source from the rung's ladder secret
// named by x-ladder-secret, or by the variable's name, or the variable.
func TestRenderFilesContent(t *testing.T) {
	p := writeProject(t, map[string]string{"compose.yaml": fieldsCompose, "token.txt": "s3cr3t-token\n"})
	secrets := map[string]string{"PROD_DB_PASSWORD": "hunter2"}
	opts := Options{
		Secrets: func(name string) (string, error) {
			if v, ok := secrets[name]; ok {
				return v, nil
			}
			return "", fmt.Errorf("%w: %s", ErrSecretNotSet, name)
		},
		ReadFile:  os.ReadFile,
		LookupEnv: func(string) (string, bool) { return "", false },
	}
	d, err := RenderWith(p, "local", "default", snapshotFor(p, nil), fakeImages, opts)
	if err != nil {
		t.Fatal(err)
	}
	api, _ := d.Service("api")
	got := map[string]string{}
	for _, f := range api.Files {
		got[f.Target] = fmt.Sprintf("%s %s %04o %s:%s %q", f.Kind, f.Source, f.Mode, f.UID, f.GID, f.Content)
	}
	want := map[string]string{
		"/run/secrets/token":   `secret file:./token.txt 0444 : "s3cr3t-token\n"`,
		"/run/secrets/db.pass": `secret ladder:PROD_DB_PASSWORD 0400 1000:1000 "hunter2"`,
		"/etc/app/config.toml": `config content 0444 : "listen = \":80\"\n"`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files\n got %v\nwant %v", got, want)
	}
	// Content never changes Config: a rotated secret alone does not
	// replace instances, and drift (which loads nothing) agrees.
	plain := mustRender(t, p, "local", "default", snapshotFor(p, nil), fakeImages)
	pa, _ := plain.Service("api")
	if pa.Config != api.Config {
		t.Errorf("loading file contents changed the config hash")
	}

	// Without x-ladder-secret, an environment source is the rung's
	// secret of that name, else the variable; neither is an error.
	noX := strings.Replace(fieldsCompose, "    x-ladder-secret: PROD_DB_PASSWORD\n", "", 1)
	p = writeProject(t, map[string]string{"compose.yaml": noX, "token.txt": "t"})
	secrets = map[string]string{"DB_PASSWORD": "from-ladder"}
	d, err = RenderWith(p, "local", "default", snapshotFor(p, nil), fakeImages, opts)
	if err != nil {
		t.Fatal(err)
	}
	if f := fileAt(d, "api", "/run/secrets/db.pass"); string(f.Content) != "from-ladder" || f.Source != "environment:DB_PASSWORD" {
		t.Errorf("environment source from the ladder secret: %s %q", f.Source, f.Content)
	}
	secrets = map[string]string{}
	opts.LookupEnv = func(k string) (string, bool) { return "from-env", k == "DB_PASSWORD" }
	d, err = RenderWith(p, "local", "default", snapshotFor(p, nil), fakeImages, opts)
	if err != nil {
		t.Fatal(err)
	}
	if f := fileAt(d, "api", "/run/secrets/db.pass"); string(f.Content) != "from-env" {
		t.Errorf("environment source from the variable: %q", f.Content)
	}
	opts.LookupEnv = func(string) (string, bool) { return "", false }
	_, err = RenderWith(p, "local", "default", snapshotFor(p, nil), fakeImages, opts)
	if err == nil || !strings.Contains(err.Error(), "ladder secret set local DB_PASSWORD") {
		t.Errorf("a secret with no value: %v", err)
	}
}

func fileAt(d *Desired, service, target string) File {
	s, _ := d.Service(service)
	for _, f := range s.Files {
		if f.Target == target {
			return f
		}
	}
	return File{}
}

// A label in ladder's or Compose's own namespace would let a stack pass
// for another project or snapshot.
func TestRenderReservedLabel(t *testing.T) {
	p := writeProject(t, map[string]string{"compose.yaml": "services:\n  a:\n    build: ./a\n    labels: {dev.ladder.snapshot: x}\n"})
	_, err := Render(p, "local", "default", snapshotFor(p, nil), fakeImages)
	if err == nil || !strings.Contains(err.Error(), "label dev.ladder.snapshot is reserved") {
		t.Errorf("err = %v", err)
	}
}

// Check finds what a deploy's render would refuse without artifacts or
// secrets, so validate reports it first; the demo has nothing to refuse.
func TestCheckReportsRenderRefusals(t *testing.T) {
	if errs := Check(loadDemo(t)); len(errs) != 0 {
		t.Errorf("the demo: %v", errs)
	}
	p := writeProject(t, map[string]string{"compose.yaml": "services:\n  a:\n    build: ./a\n    labels: {dev.ladder.site: x}\n    environment: {LADDER_X: y}\n  b:\n    build: ./b\n"})
	errs := Check(p)
	got := fmt.Sprint(errs)
	if len(errs) != 1 || len(errs["a"]) != 2 || !strings.Contains(got, "label dev.ladder.site is reserved") || !strings.Contains(got, "LADDER_X is reserved") {
		t.Errorf("Check = %v", errs)
	}
}

// A service's other names (container_name, a link alias another service
// gives it) join its network aliases on each of its networks; a service
// on the host's network has none to join, and a stack without them
// renders as it did.
func TestRuntimeOtherNames(t *testing.T) {
	p := writeProject(t, map[string]string{"compose.yaml": `name: names
services:
  web:
    build: ./web
    links: ["db:database", "cache"]
  db:
    build: ./db
    container_name: pg-main
    networks:
      back: {aliases: [store]}
      default: {}
  cache:
    build: ./cache
  host:
    build: ./host
    network_mode: host
    container_name: on-host
networks:
  back: {}
`})
	d := mustRender(t, p, "local", "default", snapshotFor(p, nil), fakeImages)
	want := map[string]map[string][]string{
		"db":    {"back": {"store", "pg-main", "database"}, "default": {"pg-main", "database"}},
		"web":   nil,
		"cache": nil,
		"host":  nil,
	}
	for name, aliases := range want {
		svc, ok := d.Service(name)
		if !ok {
			t.Fatalf("no service %s", name)
		}
		var got map[string][]string
		if svc.Runtime != nil {
			got = svc.Runtime.Aliases
		}
		if !reflect.DeepEqual(got, aliases) {
			t.Errorf("%s: aliases %v, want %v", name, got, aliases)
		}
	}
	db, _ := d.Service("db")
	if got := db.HostNames(); !reflect.DeepEqual(got, []string{"store", "pg-main", "database"}) {
		t.Errorf("db's host names %v", got)
	}
	for host, want := range map[string]string{"db": "db", "database": "db", "pg-main": "db", "store": "db", "web": "web", "on-host": ""} {
		got := ""
		if s, ok := d.ServiceByHost(host); ok {
			got = s.Name
		}
		if got != want {
			t.Errorf("ServiceByHost(%s) = %q, want %q", host, got, want)
		}
	}
}
