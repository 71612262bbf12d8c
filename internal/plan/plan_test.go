package plan

import (
	"github.com/ladderhq/ladder/internal/golden"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ladderhq/ladder/internal/render"
)

func digest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// Snapshot IDs: the one being deployed and older ones.
var (
	snapNew   = strings.Repeat("e", 64)
	snapOld   = strings.Repeat("d", 64)
	snapOlder = strings.Repeat("c", 64)
)

var site = render.SiteRef{Env: "dev", Site: "east"}

// The reference stack, in dependency order:
//
//	db       health checked
//	migrate  a job: api waits for it to complete
//	api      2 replicas, health checked, after db (healthy) and migrate
//	web      no health check, after api (started)
func stack() []render.Service {
	return []render.Service{
		{
			Name: "db", Digest: digest("1"), Entrypoint: []string{"/db"}, Replicas: 1, Restart: "always",
			Health: &render.Health{Command: []string{"/db", "-check"}, Interval: time.Second, Timeout: time.Second, Retries: 3},
		},
		{
			Name: "migrate", Digest: digest("2"), Entrypoint: []string{"/migrate"}, Replicas: 1, Restart: "no",
			DependsOn: []render.Dependency{{Service: "db", Condition: render.ConditionHealthy}},
		},
		{
			Name: "api", Digest: digest("3"), Entrypoint: []string{"/api"}, Replicas: 2, Restart: "on-failure",
			Environment: map[string]string{"MODE": "fast"},
			Ports:       []render.Port{{Target: 8080, Protocol: "tcp"}},
			Health:      &render.Health{HTTP: &render.Endpoint{Path: "/healthz", Port: 8080}, Interval: time.Second, Timeout: time.Second, Retries: 3},
			DependsOn: []render.Dependency{
				{Service: "db", Condition: render.ConditionHealthy},
				{Service: "migrate", Condition: render.ConditionCompleted},
			},
		},
		{
			Name: "web", Digest: digest("4"), Entrypoint: []string{"/web"}, Replicas: 1, Restart: "unless-stopped",
			Ports:     []render.Port{{Target: 8080, Published: 3000, Protocol: "tcp"}},
			DependsOn: []render.Dependency{{Service: "api", Condition: render.ConditionStarted}},
		},
	}
}

// desired sets each service's Config as Render does; edit changes the
// services first.
func desired(edit func(svcs []render.Service)) *render.Desired {
	svcs := stack()
	if edit != nil {
		edit(svcs)
	}
	for i := range svcs {
		svcs[i].Config = render.ConfigHash(svcs[i])
	}
	return &render.Desired{SiteRef: site, Stack: "shop", Snapshot: snapNew, Services: svcs}
}

func svcOf(d *render.Desired, name string) render.Service {
	s, ok := d.Service(name)
	if !ok {
		panic("no service " + name)
	}
	return *s
}

// instance is replica i of s, running, from snapshot snap.
func instance(s render.Service, i int, snap string) Instance {
	return Instance{
		Service: s.Name, Slot: SlotName(i, s.Config), Snapshot: snap,
		Digest: s.Digest, Config: s.Config, State: StateRunning, Health: HealthHealthy,
		ID: s.Name + "-" + SlotName(i, s.Config), Started: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// runningAll is what a site runs after a successful deploy of d from snap:
// every replica up, every job exited 0.
func runningAll(d *render.Desired, snap string) []Instance {
	var out []Instance
	for _, s := range d.Services {
		for i := 1; i <= s.Replicas; i++ {
			in := instance(s, i, snap)
			if d.Job(s.Name) {
				in.State, in.Health, in.ExitCode = StateExited, HealthNone, 0
			}
			out = append(out, in)
		}
	}
	return out
}

func observed(ins ...Instance) *Observed { return &Observed{SiteRef: site, Instances: ins} }

// without drops the instances of service.
func without(ins []Instance, service string) []Instance {
	return slices.DeleteFunc(slices.Clone(ins), func(in Instance) bool { return in.Service == service })
}

// with applies f to the instances of service.
func with(ins []Instance, service string, f func(in *Instance)) []Instance {
	out := slices.Clone(ins)
	for i := range out {
		if out[i].Service == service {
			f(&out[i])
		}
	}
	return out
}

// want is the expected plan of one service.
type want struct {
	action Action
	reason string
	keep   []int // replica numbers, with the desired config
	start  []int
	await  Await
	stop   []string // slots
	after  []string // checked exactly when the service starts something
}

func TestCompute(t *testing.T) {
	d := desired(nil)
	slot := func(name string, i int) string { return SlotName(i, svcOf(d, name).Config) }
	steady := runningAll(d, snapNew)

	// api built anew: same definition, another artifact.
	newAPI := desired(func(s []render.Service) { s[2].Digest = digest("9") })
	// web configured anew: another environment variable.
	newWeb := desired(func(s []render.Service) { s[3].Environment = map[string]string{"THEME": "dark"} })
	apiOf := func(reps int) *render.Desired {
		return desired(func(s []render.Service) { s[2].Replicas = reps })
	}
	api3 := apiOf(3)
	api1 := apiOf(1)

	tests := []struct {
		name    string
		d       *render.Desired
		obs     *Observed
		empty   bool
		changed []string
		from    []string
		svcs    map[string]want
	}{
		{
			name: "empty_site", d: d, obs: observed(),
			changed: []string{"db", "migrate", "api", "web"},
			svcs: map[string]want{
				"db":      {action: ActionCreate, start: []int{1}, await: AwaitHealthy},
				"migrate": {action: ActionCreate, start: []int{1}, await: AwaitCompleted, after: []string{"db"}},
				"api":     {action: ActionCreate, start: []int{1, 2}, await: AwaitHealthy, after: []string{"db", "migrate"}},
				"web":     {action: ActionCreate, start: []int{1}, await: AwaitStarted, after: []string{"api"}},
			},
		},
		{
			name: "identical", d: d, obs: observed(steady...), empty: true,
			from: []string{snapNew},
			svcs: map[string]want{
				"db":      {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api":     {action: ActionKeep, reason: "unchanged", keep: []int{1, 2}},
				"web":     {action: ActionKeep, reason: "unchanged", keep: []int{1}},
			},
		},
		{
			// Instances that are starting or waiting out a restart backoff
			// are the supervisor's business: the plan keeps them.
			name: "starting_and_restarting_kept", d: d, empty: true,
			obs: observed(with(with(steady, "api", func(in *Instance) {
				if in.Slot == slot("api", 2) {
					in.State, in.Health, in.Restarts, in.ExitCode = StateRestarting, HealthUnhealthy, 3, 1
				}
			}), "web", func(in *Instance) { in.State, in.Health = StateStarting, HealthStarting })...),
			from: []string{snapNew},
			svcs: map[string]want{
				"db":      {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api":     {action: ActionKeep, reason: "unchanged", keep: []int{1, 2}},
				"web":     {action: ActionKeep, reason: "unchanged", keep: []int{1}},
			},
		},
		{
			name: "digest_changed", d: newAPI, obs: observed(runningAll(d, snapOld)...),
			changed: []string{"api"},
			from:    []string{snapOld},
			svcs: map[string]want{
				"db":      {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api": {action: ActionReplace, reason: "artifact 333333333333 -> 999999999999", start: []int{1, 2}, await: AwaitHealthy,
					stop: []string{slot("api", 1), slot("api", 2)}},
				"web": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
			},
		},
		{
			name: "config_changed", d: newWeb, obs: observed(runningAll(d, snapOld)...),
			changed: []string{"web"},
			from:    []string{snapOld},
			svcs: map[string]want{
				"db":      {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api":     {action: ActionKeep, reason: "unchanged", keep: []int{1, 2}},
				"web":     {action: ActionReplace, reason: "configuration changed", start: []int{1}, await: AwaitStarted, stop: []string{slot("web", 1)}},
			},
		},
		{
			name: "scale_up", d: api3, obs: observed(runningAll(apiOf(1), snapOld)...),
			changed: []string{"api"},
			from:    []string{snapOld},
			svcs: map[string]want{
				"db":      {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api":     {action: ActionScale, reason: "1 -> 3 replicas", keep: []int{1}, start: []int{2, 3}, await: AwaitHealthy},
				"web":     {action: ActionKeep, reason: "unchanged", keep: []int{1}},
			},
		},
		{
			name: "scale_down", d: api1, obs: observed(runningAll(api3, snapOld)...),
			changed: []string{"api"},
			from:    []string{snapOld},
			svcs: map[string]want{
				"db":      {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api":     {action: ActionScale, reason: "3 -> 1 replicas", keep: []int{1}, stop: []string{slot("api", 2), slot("api", 3)}},
				"web":     {action: ActionKeep, reason: "unchanged", keep: []int{1}},
			},
		},
		{
			name: "scale_to_zero", d: desired(func(s []render.Service) { s[3].Replicas = 0 }), obs: observed(steady...),
			changed: []string{"web"},
			from:    []string{snapNew},
			svcs: map[string]want{
				"db":      {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api":     {action: ActionKeep, reason: "unchanged", keep: []int{1, 2}},
				"web":     {action: ActionScale, reason: "1 -> 0 replicas", stop: []string{slot("web", 1)}},
			},
		},
		{
			// The only web instance crashed for good: it is started again
			// in its slot, and the dead one cleared.
			name: "crashed_restarted", d: d,
			obs: observed(with(steady, "web", func(in *Instance) {
				in.State, in.Health, in.ExitCode = StateExited, HealthNone, 2
			})...),
			changed: []string{"web"},
			from:    []string{snapNew},
			svcs: map[string]want{
				"db":      {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api":     {action: ActionKeep, reason: "unchanged", keep: []int{1, 2}},
				"web":     {action: ActionReplace, reason: "instances not running", start: []int{1}, await: AwaitStarted, stop: []string{slot("web", 1)}},
			},
		},
		{
			// The web container was changed out of band (drift): it is
			// replaced in its slot, which repairs it.
			name: "drift_repaired", d: d,
			obs: observed(with(steady, "web", func(in *Instance) {
				in.Drift = "env FAULT_LATENCY"
			})...),
			changed: []string{"web"},
			from:    []string{snapNew},
			svcs: map[string]want{
				"db":      {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api":     {action: ActionKeep, reason: "unchanged", keep: []int{1, 2}},
				"web":     {action: ActionReplace, reason: "repairing drift: env FAULT_LATENCY", start: []int{1}, await: AwaitStarted, stop: []string{slot("web", 1)}},
			},
		},
		{
			// One of two api replicas crashed: the other is kept.
			name: "one_replica_crashed", d: d,
			obs: observed(with(steady, "api", func(in *Instance) {
				if in.Slot == slot("api", 2) {
					in.State, in.Health, in.ExitCode = StateExited, HealthNone, 137
				}
			})...),
			changed: []string{"api"},
			from:    []string{snapNew},
			svcs: map[string]want{
				"db":      {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api": {action: ActionScale, reason: "replacing instances that are not running", keep: []int{1}, start: []int{2},
					await: AwaitHealthy, stop: []string{slot("api", 2)}},
				"web": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
			},
		},
		{
			// A server that exited 0 is not running either.
			name: "server_exited_zero", d: d,
			obs:     observed(with(steady, "db", func(in *Instance) { in.State, in.Health, in.ExitCode = StateExited, HealthNone, 0 })...),
			changed: []string{"db"},
			from:    []string{snapNew},
			svcs: map[string]want{
				"db":      {action: ActionReplace, reason: "instances not running", start: []int{1}, await: AwaitHealthy, stop: []string{slot("db", 1)}},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api":     {action: ActionKeep, reason: "unchanged", keep: []int{1, 2}},
				"web":     {action: ActionKeep, reason: "unchanged", keep: []int{1}},
			},
		},
		{
			name: "job_failed", d: d,
			obs:     observed(with(steady, "migrate", func(in *Instance) { in.ExitCode = 1 })...),
			changed: []string{"migrate"},
			from:    []string{snapNew},
			svcs: map[string]want{
				"db":      {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionReplace, reason: "instances not running", start: []int{1}, await: AwaitCompleted, stop: []string{slot("migrate", 1)}},
				"api":     {action: ActionKeep, reason: "unchanged", keep: []int{1, 2}},
				"web":     {action: ActionKeep, reason: "unchanged", keep: []int{1}},
			},
		},
		{
			// A new migration must run before the api that waits for it.
			name: "job_changed_api_changed", d: desired(func(s []render.Service) {
				s[1].Digest = digest("8")
				s[2].Digest = digest("9")
			}),
			obs:     observed(runningAll(d, snapOld)...),
			changed: []string{"migrate", "api"},
			from:    []string{snapOld},
			svcs: map[string]want{
				"db": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionReplace, reason: "artifact 222222222222 -> 888888888888", start: []int{1}, await: AwaitCompleted,
					stop: []string{slot("migrate", 1)}},
				"api": {action: ActionReplace, reason: "artifact 333333333333 -> 999999999999", start: []int{1, 2}, await: AwaitHealthy,
					stop: []string{slot("api", 1), slot("api", 2)}, after: []string{"migrate"}},
				"web": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
			},
		},
		{
			// db is gone and web is new: only db is awaited before
			// migrate, and api keeps running so web need not wait for it.
			name: "partial_site", d: d,
			obs:     observed(without(without(steady, "db"), "web")...),
			changed: []string{"db", "web"},
			from:    []string{snapNew},
			svcs: map[string]want{
				"db":      {action: ActionCreate, start: []int{1}, await: AwaitHealthy},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api":     {action: ActionKeep, reason: "unchanged", keep: []int{1, 2}},
				"web":     {action: ActionCreate, start: []int{1}, await: AwaitStarted},
			},
		},
		{
			name: "service_removed", d: desired(nil),
			obs: observed(append(slices.Clone(steady),
				Instance{Service: "legacy", Slot: "2-abcdef01", Snapshot: snapOld, State: StateRunning},
				Instance{Service: "legacy", Slot: "1-abcdef01", Snapshot: snapOld, State: StateRunning},
				Instance{Service: "cron", Slot: "1-12345678", Snapshot: snapOlder, State: StateExited, ExitCode: 1},
			)...),
			changed: []string{"cron", "legacy"},
			from:    []string{snapOlder, snapOld, snapNew},
			svcs: map[string]want{
				"db":      {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"migrate": {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"api":     {action: ActionKeep, reason: "unchanged", keep: []int{1, 2}},
				"web":     {action: ActionKeep, reason: "unchanged", keep: []int{1}},
				"cron":    {action: ActionRemove, reason: "no longer in the stack", stop: []string{"1-12345678"}},
				"legacy":  {action: ActionRemove, reason: "no longer in the stack", stop: []string{"1-abcdef01", "2-abcdef01"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Compute(tt.d, tt.obs)
			checkGolden(t, tt.name, p.String())

			if p.SiteRef != site || p.Snapshot != snapNew {
				t.Errorf("plan for %s snapshot %s, want %s snapshot %s", p.SiteRef, p.Snapshot, site, snapNew)
			}
			if !slices.Equal(p.From, tt.from) {
				t.Errorf("From = %q, want %q", p.From, tt.from)
			}
			if got := p.Empty(); got != tt.empty {
				t.Errorf("Empty() = %v, want %v", got, tt.empty)
			}
			if got := p.Changed(); !slices.Equal(got, tt.changed) {
				t.Errorf("Changed() = %q, want %q", got, tt.changed)
			}
			var order []string
			for _, sp := range p.Services {
				order = append(order, sp.Service)
			}
			wantOrder := []string{}
			for _, s := range tt.d.Services {
				wantOrder = append(wantOrder, s.Name)
			}
			for _, name := range []string{"cron", "legacy"} {
				if _, ok := tt.svcs[name]; ok {
					wantOrder = append(wantOrder, name)
				}
			}
			if !slices.Equal(order, wantOrder) {
				t.Errorf("services in order %q, want %q", order, wantOrder)
			}

			started := map[string]bool{}
			for _, sp := range p.Services {
				if len(sp.Start) > 0 {
					started[sp.Service] = true
				}
			}
			for name, w := range tt.svcs {
				sp, ok := p.Service(name)
				if !ok {
					t.Errorf("%s: not in the plan", name)
					continue
				}
				config := ""
				if s, ok := tt.d.Service(name); ok {
					config = s.Config
				}
				slots := func(is []int) []string {
					var out []string
					for _, i := range is {
						out = append(out, SlotName(i, config))
					}
					return out
				}
				var stopped []string
				for _, in := range sp.Stop {
					stopped = append(stopped, in.Slot)
				}
				if sp.Action != w.action || sp.Reason != w.reason {
					t.Errorf("%s: %s (%s), want %s (%s)", name, sp.Action, sp.Reason, w.action, w.reason)
				}
				if !slices.Equal(sp.Keep, slots(w.keep)) || !slices.Equal(sp.Start, slots(w.start)) || !slices.Equal(stopped, w.stop) {
					t.Errorf("%s: keep %q start %q stop %q, want keep %q start %q stop %q", name, sp.Keep, sp.Start, stopped, slots(w.keep), slots(w.start), w.stop)
				}
				if sp.Await != w.await {
					t.Errorf("%s: await %q, want %q", name, sp.Await, w.await)
				}
				if len(sp.Start) > 0 && !slices.Equal(sp.After, w.after) {
					t.Errorf("%s: after %q, want %q", name, sp.After, w.after)
				}
				for _, dep := range sp.After {
					if !started[dep] {
						t.Errorf("%s: after %s, which starts nothing in this plan", name, dep)
					}
				}
			}
			if len(p.Services) != len(tt.svcs) {
				t.Errorf("plan has %d services, want %d", len(p.Services), len(tt.svcs))
			}
		})
	}
}

// Stop carries the whole observed instance, so a target can find it.
func TestComputeStopCarriesInstance(t *testing.T) {
	d := desired(func(s []render.Service) { s[3].Environment = map[string]string{"X": "1"} })
	old := desired(nil)
	obs := observed(runningAll(old, snapOld)...)
	p := Compute(d, obs)
	sp, _ := p.Service("web")
	if len(sp.Stop) != 1 {
		t.Fatalf("web stops %d instances, want 1", len(sp.Stop))
	}
	want := instance(svcOf(old, "web"), 1, snapOld)
	got := sp.Stop[0]
	if got.ID != want.ID || got.Slot != want.Slot || got.Config != want.Config || got.Digest != want.Digest || got.Snapshot != snapOld {
		t.Errorf("stop %+v, want %+v", got, want)
	}
}

// A plan is a pure function of its inputs: instance order does not matter.
func TestComputeDeterministic(t *testing.T) {
	d := desired(func(s []render.Service) { s[2].Digest = digest("9") })
	ins := runningAll(desired(nil), snapOld)
	ins = append(ins, Instance{Service: "zzz", Slot: "1-00000000", Snapshot: snapOlder, State: StateRunning})
	want := Compute(d, observed(ins...)).String()
	rev := slices.Clone(ins)
	slices.Reverse(rev)
	if got := Compute(d, observed(rev...)).String(); got != want {
		t.Errorf("plan depends on instance order:\n%s\nvs\n%s", got, want)
	}
}

func TestSlotName(t *testing.T) {
	config := "0123456789abcdef" + strings.Repeat("f", 48)
	tests := []struct {
		i      int
		config string
		want   string
	}{
		{1, config, "1-01234567"},
		{2, config, "2-01234567"},
		{12, config, "12-01234567"},
		{1, "sha256:" + config, "1-01234567"},
		{1, "abcdef01", "1-abcdef01"},
	}
	for _, tt := range tests {
		if got := SlotName(tt.i, tt.config); got != tt.want {
			t.Errorf("SlotName(%d, %q) = %q, want %q", tt.i, tt.config, got, tt.want)
		}
	}
	// A config change renames every slot, so replacements can run beside
	// the instances they replace.
	other := "fedcba98" + config[8:]
	if SlotName(1, config) == SlotName(1, other) {
		t.Errorf("SlotName ignores the config")
	}
}

func TestObserved(t *testing.T) {
	o := observed(
		Instance{Service: "b", Slot: "2-x", Snapshot: snapOld},
		Instance{Service: "a", Slot: "1-x", Snapshot: snapNew},
		Instance{Service: "b", Slot: "1-x", Snapshot: snapNew},
		Instance{Service: "b", Slot: "10-x", Snapshot: snapOld},
	)
	var slots []string
	for _, in := range o.Of("b") {
		slots = append(slots, in.Slot)
	}
	// Slots sort as strings.
	if want := []string{"1-x", "10-x", "2-x"}; !slices.Equal(slots, want) {
		t.Errorf("Of(b) slots = %q, want %q", slots, want)
	}
	if got := o.Of("c"); got != nil {
		t.Errorf("Of(c) = %+v, want nil", got)
	}
	if got, want := o.Snapshots(), []string{snapOld, snapNew}; !slices.Equal(got, want) {
		t.Errorf("Snapshots() = %q, want %q", got, want)
	}
	if got := observed().Snapshots(); got != nil {
		t.Errorf("Snapshots() of an empty site = %q, want nil", got)
	}
}

func TestPlanEmptyAndChanged(t *testing.T) {
	tests := []struct {
		name    string
		actions []Action
		empty   bool
		changed []string
	}{
		{"no services", nil, true, nil},
		{"all kept", []Action{ActionKeep, ActionKeep}, true, nil},
		{"one create", []Action{ActionKeep, ActionCreate}, false, []string{"s1"}},
		{"every action", []Action{ActionCreate, ActionReplace, ActionScale, ActionRemove, ActionKeep}, false, []string{"s0", "s1", "s2", "s3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{}
			for i, a := range tt.actions {
				p.Services = append(p.Services, ServicePlan{Service: "s" + string(rune('0'+i)), Action: a})
			}
			if p.Empty() != tt.empty {
				t.Errorf("Empty() = %v, want %v", p.Empty(), tt.empty)
			}
			if got := p.Changed(); !slices.Equal(got, tt.changed) {
				t.Errorf("Changed() = %q, want %q", got, tt.changed)
			}
		})
	}
}

func TestPlanStringLayout(t *testing.T) {
	p := &Plan{
		SiteRef:  render.SiteRef{Env: "prod", Site: "a"},
		Snapshot: snapNew,
		Services: []ServicePlan{
			{Service: "x", Action: ActionKeep, Reason: "unchanged", Keep: []string{"1-aaaaaaaa"}},
			{Service: "longname", Action: ActionRemove, Stop: []Instance{{Slot: "1-bbbbbbbb"}, {Slot: "2-bbbbbbbb"}}},
			{Service: "y", Action: ActionCreate},
		},
	}
	want := "plan prod/a: snapshot eeeeeeeeeeee (running nothing)\n" +
		"  = x         keep     keep 1-aaaaaaaa (unchanged)\n" +
		"  - longname  remove   stop 1-bbbbbbbb 2-bbbbbbbb\n" +
		"  + y         create\n"
	if got := p.String(); got != want {
		t.Errorf("String() =\n%q\nwant\n%q", got, want)
	}
}

func checkGolden(t *testing.T, name, got string) { golden.Check(t, name, got) }
