package drift

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"github.com/ladderhq/ladder/internal/golden"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
)

func digest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// imageID stands in for a runtime that names images by something other
// than the artifact digest (Docker's image ID), so the tests show
// Options.ImageID is what the image is compared with.
func imageID(d string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(d))) }

var (
	snapNew = "3f2a9c1b0d4e" + strings.Repeat("5", 52)
	snapOld = strings.Repeat("d", 64)
	site    = render.SiteRef{Env: "local", Site: "default"}
)

// Secret values: none may appear in any report's text or JSON.
const (
	dbPassword = "hunter2-db-password"
	apiToken   = "s3cr3t-api-token"
	newToken   = "n3w-leaked-token"
)

// desired is the reference site, in dependency order:
//
//	db       health checked, a secret password, an automatic port
//	migrate  a job: trades waits for it to complete
//	trades   2 replicas, a secret token, an automatic port
//	web      a fixed port (3000)
func desired() *render.Desired {
	svcs := []render.Service{
		{
			Name: "db", Digest: digest("1"), Entrypoint: []string{"/db"}, Replicas: 1, Restart: "always",
			Environment: map[string]string{"PATH": "/usr/bin:/bin", "POSTGRES_PASSWORD": dbPassword},
			Ports:       []render.Port{{Target: 5432, Protocol: "tcp"}},
			Health:      &render.Health{Command: []string{"/db", "-check"}, Interval: time.Second, Timeout: time.Second, Retries: 3},
		},
		{
			Name: "migrate", Digest: digest("2"), Entrypoint: []string{"/migrate"}, Command: []string{"up"}, Replicas: 1, Restart: "no",
			Environment: map[string]string{"PATH": "/usr/bin:/bin"},
			DependsOn:   []render.Dependency{{Service: "db", Condition: render.ConditionHealthy}},
		},
		{
			Name: "trades", Digest: digest("3"), Entrypoint: []string{"/trades"}, Command: []string{"-v"}, Replicas: 2, Restart: "on-failure",
			Environment: map[string]string{
				"PATH": "/usr/bin:/bin", "LOG_LEVEL": "info", "API_TOKEN": apiToken,
				"DATABASE_URL": "postgres://app:" + dbPassword + "@db:5432/app",
			},
			Ports:  []render.Port{{Target: 8080, Protocol: "tcp"}},
			Health: &render.Health{HTTP: &render.Endpoint{Path: "/healthz", Port: 8080}, Interval: time.Second, Timeout: time.Second, Retries: 3},
			DependsOn: []render.Dependency{
				{Service: "db", Condition: render.ConditionHealthy},
				{Service: "migrate", Condition: render.ConditionCompleted},
			},
		},
		{
			Name: "web", Digest: digest("4"), Entrypoint: []string{"/web"}, Replicas: 1, Restart: "unless-stopped",
			Environment: map[string]string{"PATH": "/usr/bin:/bin", "TRADES_URL": "http://trades:8080"},
			Ports:       []render.Port{{Target: 8080, Published: 3000, Protocol: "tcp"}},
			DependsOn:   []render.Dependency{{Service: "trades", Condition: render.ConditionStarted}},
		},
	}
	for i := range svcs {
		svcs[i].Config = render.ConfigHash(svcs[i])
	}
	return &render.Desired{SiteRef: site, Stack: "shop", Snapshot: snapNew, Services: svcs}
}

// liveOf is what a runtime reports for a site that runs d exactly, noise
// included: the variables the runtime and ladder add, and db and web
// carried over unchanged from an older snapshot.
func liveOf(d *render.Desired) *Live {
	live := &Live{SiteRef: d.SiteRef}
	hostPort := 32768
	for _, svc := range d.Services {
		for i := 1; i <= svc.Replicas; i++ {
			slot := plan.SlotName(i, svc.Config)
			snap := snapNew
			if svc.Name == "db" || svc.Name == "web" {
				snap = snapOld
			}
			env := maps.Clone(svc.Environment)
			env["HOSTNAME"] = fmt.Sprintf("c%s%d", svc.Name, i)
			env["LADDER_SNAPSHOT"] = snap
			env["LADDER_SLOT"] = slot
			var ports []render.Port
			for _, p := range svc.Ports {
				if p.Published == 0 {
					p.Published = hostPort
					hostPort++
				}
				ports = append(ports, p)
				env["PORT"] = fmt.Sprint(p.Target)
			}
			health := ""
			if svc.Health != nil {
				health = plan.HealthHealthy
			}
			live.Instances = append(live.Instances, Instance{
				Service: svc.Name, Slot: slot,
				ID:    fmt.Sprintf("%x", sha256.Sum256([]byte(slot)))[:12],
				Name:  fmt.Sprintf("shop-%s-%d", svc.Name, i),
				Image: imageID(svc.Digest),
				Labels: map[string]string{
					LabelSnapshot: snap, LabelEnvironment: d.Env, LabelSite: d.Site,
					LabelService: svc.Name, LabelSlot: slot, LabelDigest: svc.Digest, LabelConfig: svc.Config,
				},
				Entrypoint: slices.Clone(svc.Entrypoint),
				Command:    slices.Clone(svc.Command),
				Env:        env,
				Ports:      ports,
				Running:    true,
				Health:     health,
			})
		}
	}
	return live
}

var opts = Options{ImageID: imageID, IgnoreEnv: IgnoreKeys("PATH", "HOSTNAME")}

// find returns the instance of service in slot i (from 1).
func find(t *testing.T, d *render.Desired, live *Live, service string, i int) *Instance {
	t.Helper()
	svc, ok := d.Service(service)
	if !ok {
		t.Fatalf("no service %s", service)
	}
	slot := plan.SlotName(i, svc.Config)
	for j := range live.Instances {
		if live.Instances[j].Service == service && live.Instances[j].Slot == slot {
			return &live.Instances[j]
		}
	}
	t.Fatalf("no instance %s %s", service, slot)
	return nil
}

func remove(live *Live, in *Instance) {
	live.Instances = slices.DeleteFunc(live.Instances, func(x Instance) bool { return x.ID == in.ID })
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name  string
		drift bool
		edit  func(t *testing.T, d *render.Desired, live *Live)
	}{
		{"clean", false, func(t *testing.T, d *render.Desired, live *Live) {}},
		{"container_removed", true, func(t *testing.T, d *render.Desired, live *Live) {
			remove(live, find(t, d, live, "trades", 2))
		}},
		{"stopped", true, func(t *testing.T, d *render.Desired, live *Live) {
			find(t, d, live, "web", 1).Running = false
		}},
		{"other_image", true, func(t *testing.T, d *render.Desired, live *Live) {
			find(t, d, live, "trades", 1).Image = digest("9")
		}},
		{"env_added", true, func(t *testing.T, d *render.Desired, live *Live) {
			find(t, d, live, "trades", 1).Env["FAULT_LATENCY"] = "250ms"
		}},
		{"env_changed", true, func(t *testing.T, d *render.Desired, live *Live) {
			find(t, d, live, "trades", 2).Env["LOG_LEVEL"] = "debug"
		}},
		{"env_removed", true, func(t *testing.T, d *render.Desired, live *Live) {
			delete(find(t, d, live, "web", 1).Env, "TRADES_URL")
		}},
		{"secret_changed", true, func(t *testing.T, d *render.Desired, live *Live) {
			in := find(t, d, live, "trades", 1)
			in.Env["API_TOKEN"] = newToken
			// The new token also leaks into a variable whose name
			// does not say it is secret, and onto the command line.
			in.Env["CALLBACK_URL"] = "https://hooks.example/?t=" + newToken
			in.Command = []string{"-v", "-token=" + newToken}
		}},
		{"command_changed", true, func(t *testing.T, d *render.Desired, live *Live) {
			find(t, d, live, "migrate", 1).Command = []string{"down"}
			find(t, d, live, "web", 1).Entrypoint = []string{"/bin/sh", "-c", "/web --debug"}
		}},
		{"port_unpublished", true, func(t *testing.T, d *render.Desired, live *Live) {
			find(t, d, live, "web", 1).Ports[0].Published = 0
		}},
		{"port_other_host_port", true, func(t *testing.T, d *render.Desired, live *Live) {
			find(t, d, live, "web", 1).Ports[0].Published = 3001
		}},
		{"port_extra", true, func(t *testing.T, d *render.Desired, live *Live) {
			in := find(t, d, live, "trades", 1)
			in.Ports = append(in.Ports, render.Port{Target: 9090, Published: 39090, Protocol: "tcp"})
		}},
		{"port_ipv6_binding", false, func(t *testing.T, d *render.Desired, live *Live) {
			// The same host port listed once per address family.
			in := find(t, d, live, "web", 1)
			in.Ports = append(in.Ports, in.Ports[0])
		}},
		{"extra_container", true, func(t *testing.T, d *render.Desired, live *Live) {
			svc, _ := d.Service("trades")
			extra := *find(t, d, live, "trades", 1)
			extra.Slot = plan.SlotName(3, svc.Config)
			extra.ID, extra.Name = "extra3", "shop-trades-3"
			live.Instances = append(live.Instances, extra)
		}},
		{"duplicate_slot", true, func(t *testing.T, d *render.Desired, live *Live) {
			// A hand-started copy claims slot 1; the stopped one is extra.
			dup := *find(t, d, live, "web", 1)
			dup.ID, dup.Name, dup.Running = "dup1", "shop-web-1-copy", false
			live.Instances = append([]Instance{dup}, live.Instances...)
		}},
		{"unknown_service", true, func(t *testing.T, d *render.Desired, live *Live) {
			live.Instances = append(live.Instances, Instance{
				Slot: "1-0badc0de", ID: "old1", Name: "shop-legacy-1", Image: digest("8"), Running: true,
				Labels: map[string]string{LabelService: "legacy", LabelSlot: "1-0badc0de"},
			})
		}},
		{"binary_replaced", true, func(t *testing.T, d *render.Desired, live *Live) {
			find(t, d, live, "trades", 1).Binary = "replaced on disk: /state/rootfs/trades/app"
		}},
		{"label_tampered", true, func(t *testing.T, d *render.Desired, live *Live) {
			find(t, d, live, "trades", 2).Labels[LabelConfig] = strings.Repeat("0", 64)
		}},
		{"unhealthy", true, func(t *testing.T, d *render.Desired, live *Live) {
			find(t, d, live, "db", 1).Health = plan.HealthUnhealthy
		}},
		{"job_completed", false, func(t *testing.T, d *render.Desired, live *Live) {
			in := find(t, d, live, "migrate", 1)
			in.Running, in.Health = false, plan.HealthUnhealthy
		}},
		{"ignored_env", false, func(t *testing.T, d *render.Desired, live *Live) {
			in := find(t, d, live, "trades", 1)
			in.Env["PATH"] = "/rootfs/usr/bin:/usr/local/bin"
			in.Env["HOSTNAME"] = "another"
			in.Env["LADDER_SNAPSHOT"] = snapOld
			in.Env["LADDER_ENVIRONMENT"] = "local"
			in.Env["PORT"] = "41234"
		}},
		{"service_from_label", false, func(t *testing.T, d *render.Desired, live *Live) {
			// A runtime that fills only the labels.
			in := find(t, d, live, "web", 1)
			in.Service, in.Slot = "", ""
		}},
		{"several_services", true, func(t *testing.T, d *render.Desired, live *Live) {
			live.Instances = append(live.Instances,
				Instance{Service: "zeta", Slot: "1-00000000", ID: "z1", Running: true},
				Instance{Service: "alpha", Slot: "2-00000000", ID: "a2", Running: false},
				Instance{Service: "alpha", Slot: "1-00000000", ID: "a1", Running: true},
			)
			find(t, d, live, "web", 1).Running = false
			in := find(t, d, live, "trades", 2)
			in.Image = digest("9")
			in.Env["FAULT_LATENCY"] = "250ms"
			find(t, d, live, "trades", 1).Health = plan.HealthUnhealthy
			remove(live, find(t, d, live, "db", 1))
			// The runtime's listing order must not matter.
			slices.Reverse(live.Instances)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := desired()
			live := liveOf(d)
			tt.edit(t, d, live)
			r := Compare(d, live, opts)
			if r.Drifted() != tt.drift {
				t.Errorf("Drifted() = %v, want %v", r.Drifted(), tt.drift)
			}
			text := r.String()
			js, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{dbPassword, apiToken, newToken} {
				if strings.Contains(text, secret) {
					t.Errorf("String() shows secret %q:\n%s", secret, text)
				}
				if strings.Contains(string(js), secret) {
					t.Errorf("JSON shows secret %q: %s", secret, js)
				}
			}
			checkGolden(t, tt.name, text)
		})
	}
}

// TestSecretChangedIsReported: redaction hides the values, not the item.
func TestSecretChangedIsReported(t *testing.T) {
	d := desired()
	live := liveOf(d)
	find(t, d, live, "trades", 1).Env["API_TOKEN"] = newToken
	r := Compare(d, live, opts)
	want := []ServiceDrift{{Service: "trades", Items: []Item{{
		Kind: KindEnv, Instance: plan.SlotName(1, d.Services[2].Config), Field: "API_TOKEN",
		Want: Redacted, Have: Redacted,
	}}}}
	if !slices.EqualFunc(r.Services, want, func(a, b ServiceDrift) bool {
		return a.Service == b.Service && slices.Equal(a.Items, b.Items)
	}) {
		t.Errorf("Services = %+v, want %+v", r.Services, want)
	}
}

// TestCompareOptionsDefaults: without ImageID the digest itself is the
// image; without Secret, DefaultSecret redacts.
func TestCompareOptionsDefaults(t *testing.T) {
	d := desired()
	live := liveOf(d)
	for i := range live.Instances {
		live.Instances[i].Image = d.Services[slices.IndexFunc(d.Services, func(s render.Service) bool {
			return s.Name == live.Instances[i].Service
		})].Digest
	}
	if r := Compare(d, live, Options{IgnoreEnv: opts.IgnoreEnv}); r.Drifted() {
		t.Errorf("digest as image: unexpected drift:\n%s", r)
	}
	find(t, d, live, "db", 1).Env["POSTGRES_PASSWORD"] = "changed-password"
	r := Compare(d, live, Options{IgnoreEnv: opts.IgnoreEnv})
	if text := r.String(); !strings.Contains(text, "env POSTGRES_PASSWORD: want <redacted>, have <redacted>") {
		t.Errorf("secret not redacted by default:\n%s", text)
	}
}

// TestJSONShape pins the field names other tools read.
func TestJSONShape(t *testing.T) {
	d := desired()
	live := liveOf(d)
	find(t, d, live, "web", 1).Env["FAULT_LATENCY"] = "250ms"
	js, err := json.Marshal(Compare(d, live, opts))
	if err != nil {
		t.Fatal(err)
	}
	slot := plan.SlotName(1, d.Services[3].Config)
	want := `{"environment":"local","site":"default","snapshot":"` + snapNew + `","services":[{"service":"web","items":[` +
		`{"kind":"env","instance":"` + slot + `","field":"FAULT_LATENCY","want":"(unset)","have":"\"250ms\""}]}]}`
	if string(js) != want {
		t.Errorf("JSON =\n%s\nwant\n%s", js, want)
	}
	clean, _ := json.Marshal(Compare(d, liveOf(d), opts))
	if !strings.Contains(string(clean), `"services":[]`) {
		t.Errorf("clean report JSON = %s, want an empty services list", clean)
	}
}

func checkGolden(t *testing.T, name, got string) { golden.Check(t, name, got) }

// TestSecretComparedByFingerprint: a render that holds fingerprints of its
// secrets (as `ladder drift`'s) reports no drift for an unchanged secret,
// an item that shows neither value nor fingerprint for a changed one, and
// nothing for a secret it cannot check.
func TestSecretComparedByFingerprint(t *testing.T) {
	const fpOf = "fp-of:"
	match := func(want, have string) (bool, bool) {
		if !strings.HasPrefix(want, fpOf) {
			return false, false
		}
		return want == fpOf+have, true
	}
	setup := func(fp string) (*render.Desired, *Live) {
		d := desired()
		tr := &d.Services[2]
		tr.SecretEnv = []string{"API_TOKEN"}
		tr.Config = render.ConfigHash(*tr)
		live := liveOf(d)
		tr.Environment["API_TOKEN"] = fp
		return d, live
	}
	o := opts
	o.SecretMatch = match

	d, live := setup(fpOf + apiToken)
	if r := Compare(d, live, o); r.Drifted() {
		t.Errorf("unchanged secret compared by fingerprint drifted:\n%s", r)
	}

	d, live = setup(fpOf + apiToken)
	find(t, d, live, "trades", 1).Env["API_TOKEN"] = newToken
	r := Compare(d, live, o)
	want := []ServiceDrift{{Service: "trades", Items: []Item{{
		Kind: KindEnv, Instance: plan.SlotName(1, d.Services[2].Config), Field: "API_TOKEN",
		Want: Redacted, Have: Redacted,
	}}}}
	if !slices.EqualFunc(r.Services, want, func(a, b ServiceDrift) bool {
		return a.Service == b.Service && slices.Equal(a.Items, b.Items)
	}) {
		t.Errorf("Services = %+v, want %+v", r.Services, want)
	}
	b, _ := json.Marshal(r)
	for _, out := range []string{r.String(), string(b)} {
		for _, v := range []string{apiToken, newToken, fpOf} {
			if strings.Contains(out, v) {
				t.Errorf("report shows %q:\n%s", v, out)
			}
		}
	}

	d, live = setup("<secret API_TOKEN>")
	find(t, d, live, "trades", 1).Env["API_TOKEN"] = newToken
	if r := Compare(d, live, o); r.Drifted() {
		t.Errorf("a secret without a fingerprint was compared:\n%s", r)
	}
}
