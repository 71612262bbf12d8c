package drift

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ladderhq/ladder/internal/plan"
	"github.com/ladderhq/ladder/internal/render"
)

// Options adapts Compare to a runtime.
type Options struct {
	// ImageID maps an artifact digest to the image identity the runtime
	// reports (Instance.Image); nil means compare with the digest itself.
	ImageID func(digest string) string
	// Secret reports whether an environment variable holds a secret; nil
	// means DefaultSecret.
	Secret func(key string) bool
	// IgnoreEnv reports environment variables the runtime sets on its own
	// (PATH, HOSTNAME for a container; see IgnoreKeys); they are not
	// compared either way. LADDER_* and PORT are never compared: ladder
	// sets them per instance and checks what they carry through labels.
	IgnoreEnv func(key string) bool
	// SecretMatch, when set, says that the desired state holds keyed
	// fingerprints of its secret values instead of the values (a render
	// that must not load them, such as `ladder drift`'s): the value of a
	// variable the release injected from the environment's secrets is
	// then compared through it. known is false when want cannot be
	// checked (no fingerprint was recorded, or under another key); such a
	// variable is not compared. Neither the value nor the fingerprint is
	// ever shown.
	SecretMatch func(want, have string) (match, known bool)
}

// Compare reports how live differs from d. It is pure: the same inputs
// give the same report, in the same order.
func Compare(d *render.Desired, live *Live, opts Options) *Report {
	if opts.Secret == nil {
		opts.Secret = DefaultSecret
	}
	// A variable the release injected from the environment's secrets is
	// a secret whatever its name.
	declared := map[string]bool{}
	for _, s := range d.Services {
		for _, k := range s.SecretEnv {
			declared[k] = true
		}
	}
	if len(declared) > 0 {
		named := opts.Secret
		opts.Secret = func(k string) bool { return declared[k] || named(k) }
	}
	c := &comparer{d: d, opts: opts, recorded: live.Recorded}
	envs := make([]map[string]string, 0, len(d.Services)+len(live.Instances))
	for _, s := range d.Services {
		envs = append(envs, s.Environment)
	}
	byService := map[string][]Instance{}
	for _, in := range live.Instances {
		envs = append(envs, in.Env)
		name := serviceOf(in)
		byService[name] = append(byService[name], in)
	}
	c.scrubber = newScrubber(opts.Secret, envs...)

	r := &Report{SiteRef: d.SiteRef, Snapshot: d.Snapshot, Services: []ServiceDrift{}}
	add := func(service string, items []Item) {
		if len(items) > 0 {
			sortItems(items)
			r.Services = append(r.Services, ServiceDrift{Service: service, Items: items})
		}
	}
	for i := range d.Services {
		svc := &d.Services[i]
		add(svc.Name, c.service(svc, byService[svc.Name]))
		delete(byService, svc.Name)
	}
	// Whatever is left runs services the snapshot does not have.
	unknown := make([]string, 0, len(byService))
	for name := range byService {
		unknown = append(unknown, name)
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		var items []Item
		for _, in := range sortInstances(byService[name]) {
			items = append(items, unexpected(in, slotOf(in)))
		}
		add(name, items)
	}
	return r
}

type comparer struct {
	d        *render.Desired
	opts     Options
	recorded bool // see Live.Recorded
	scrubber
}

// serviceOf and slotOf read what ladder recorded in the labels when the
// runtime did not fill the fields itself.
func serviceOf(in Instance) string {
	if in.Service != "" {
		return in.Service
	}
	return in.Labels[LabelService]
}

func slotOf(in Instance) string {
	if in.Slot != "" {
		return in.Slot
	}
	return in.Labels[LabelSlot]
}

// ref names an instance in items: by slot, else by the runtime's handle.
func ref(in Instance, slot string) string {
	switch {
	case slot != "":
		return slot
	case in.Name != "":
		return in.Name
	}
	return in.ID
}

func unexpected(in Instance, slot string) Item {
	state := "running"
	if !in.Running {
		state = "stopped"
	}
	return Item{Kind: KindUnexpected, Instance: ref(in, slot), Have: state}
}

// sortInstances returns the instances in a fixed order, running ones first
// within a slot, so which of two instances claiming a slot is "the" one
// does not depend on the order the runtime listed them in.
func sortInstances(ins []Instance) []Instance {
	ins = slices.Clone(ins)
	sort.SliceStable(ins, func(i, j int) bool {
		a, b := ins[i], ins[j]
		if sa, sb := slotOf(a), slotOf(b); sa != sb {
			return sa < sb
		}
		if a.Running != b.Running {
			return a.Running
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
	return ins
}

// service compares one desired service with the instances that claim it.
func (c *comparer) service(svc *render.Service, have []Instance) []Item {
	have = sortInstances(have)
	want := map[string]bool{}
	for i := 1; i <= svc.Replicas; i++ {
		want[plan.SlotName(i, svc.Config)] = true
	}
	job := c.d.Job(svc.Name)

	var items []Item
	filled := map[string]bool{}
	running := 0
	for _, in := range have {
		slot := slotOf(in)
		if !want[slot] || filled[slot] {
			// A second claimant of a slot is named by its handle so it
			// cannot be mistaken for the first.
			if filled[slot] && in.Name != "" {
				slot = ""
			}
			items = append(items, unexpected(in, slot))
			continue
		}
		filled[slot] = true
		switch {
		case in.Running:
			running++
			items = append(items, c.instance(svc, in, slot)...)
		case job, in.Completed && svc.Restart == "no":
			// A job that exited did its work, as did a service that is
			// never restarted and exited 0 (a one-shot, as compose
			// leaves it): its slot is as desired.
			running++
		default:
			items = append(items, Item{Kind: KindStopped, Instance: slot})
		}
	}
	if running < svc.Replicas {
		items = append(items, Item{Kind: KindReplicas, Want: strconv.Itoa(svc.Replicas), Have: strconv.Itoa(running)})
	}
	for i := 1; i <= svc.Replicas; i++ {
		if slot := plan.SlotName(i, svc.Config); !filled[slot] {
			items = append(items, Item{Kind: KindMissing, Instance: slot})
		}
	}
	return items
}

// instance compares a running instance in a desired slot field by field.
func (c *comparer) instance(svc *render.Service, in Instance, slot string) []Item {
	var items []Item
	item := func(kind Kind, field, want, have string) {
		items = append(items, Item{Kind: kind, Instance: slot, Field: field, Want: want, Have: have})
	}

	if in.Binary != "" {
		item(KindBinary, "", "the file it was started from", in.Binary)
	}
	if c.recorded || in.Recorded {
		items = append(items, c.labels(svc, in, slot)...)
		if in.Health == plan.HealthUnhealthy {
			item(KindUnhealthy, "", "", "")
		}
		return items
	}
	image := svc.Digest
	if c.opts.ImageID != nil {
		image = c.opts.ImageID(svc.Digest)
	}
	if in.Image != image {
		item(KindImage, "", orUnset(image), orUnset(in.Image))
	}
	if !slices.Equal(in.Entrypoint, svc.Entrypoint) {
		item(KindEntrypoint, "", c.argv(svc.Entrypoint), c.argv(in.Entrypoint))
	}
	if !slices.Equal(in.Command, svc.Command) {
		item(KindCommand, "", c.argv(svc.Command), c.argv(in.Command))
	}

	for _, k := range unionKeys(svc.Environment, in.Env) {
		if c.ignoredEnv(k) {
			continue
		}
		w, wok := svc.Environment[k]
		h, hok := in.Env[k]
		if wok && hok && c.opts.SecretMatch != nil && svc.Secret(k) {
			if match, known := c.opts.SecretMatch(w, h); match || !known {
				continue
			}
			item(KindEnv, k, Redacted, Redacted)
			continue
		}
		if wok != hok || w != h {
			item(KindEnv, k, c.envText(k, w, wok), c.envText(k, h, hok))
		}
	}

	for _, p := range comparePorts(svc.Ports, in.Ports) {
		item(KindPort, p.field, p.want, p.have)
	}

	items = append(items, c.labels(svc, in, slot)...)

	items = append(items, c.runtimeItems(svc, in, slot)...)

	if in.Health == plan.HealthUnhealthy {
		item(KindUnhealthy, "", "", "")
	}
	return items
}

// labels compares what ladder recorded on the instance when it started it.
func (c *comparer) labels(svc *render.Service, in Instance, slot string) []Item {
	var items []Item
	// The snapshot label is left out on purpose: an instance kept
	// unchanged into a newer snapshot still carries the one it started in.
	for _, l := range []struct{ key, want string }{
		{LabelDigest, svc.Digest},
		{LabelConfig, svc.Config},
		{LabelEnvironment, c.d.Env},
		{LabelSite, c.d.Site},
	} {
		if h, ok := in.Labels[l.key]; !ok || h != l.want {
			items = append(items, Item{Kind: KindLabel, Instance: slot, Field: l.key, Want: c.text(l.want, true), Have: c.text(h, ok)})
		}
	}
	return items
}

func (c *comparer) ignoredEnv(k string) bool {
	if k == "PORT" || strings.HasPrefix(k, "LADDER_") {
		return true
	}
	return c.opts.IgnoreEnv != nil && c.opts.IgnoreEnv(k)
}

// envText shows an environment value to people: never a secret's.
func (c *comparer) envText(k, v string, ok bool) string {
	if ok && c.opts.Secret(k) {
		return Redacted
	}
	return c.text(v, ok)
}

// text quotes a value after removing any secret inside it.
func (c *comparer) text(v string, ok bool) string {
	if !ok {
		return Unset
	}
	return strconv.Quote(c.scrub(v))
}

func (c *comparer) argv(args []string) string {
	scrubbed := make([]string, len(args))
	for i, a := range args {
		scrubbed[i] = c.scrub(a)
	}
	return fmt.Sprintf("%q", scrubbed)
}

func orUnset(s string) string {
	if s == "" {
		return Unset
	}
	return s
}

func unionKeys(a, b map[string]string) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// sortItems orders items by instance, then kind, then field; service-level
// items (no instance) come first.
func sortItems(items []Item) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.Instance != b.Instance {
			return a.Instance < b.Instance
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Field < b.Field
	})
}
