package drift

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ladderhq/ladder/internal/render"
)

// KindRuntime: how an instance runs differs (user, read-only root,
// capabilities, limits); Field names the setting.
const KindRuntime Kind = "runtime"

// Runtime is what a container runtime reports of how an instance runs.
// Instance.Runtime is nil where the runtime has no such settings (local
// processes), and then none of them is compared.
type Runtime struct {
	User       string   `json:"user,omitempty"`
	ReadOnly   bool     `json:"readOnly,omitempty"`
	Privileged bool     `json:"privileged,omitempty"`
	CapAdd     []string `json:"capAdd,omitempty"`
	CapDrop    []string `json:"capDrop,omitempty"`
	Memory     int64    `json:"memory,omitempty"`
	NanoCPUs   int64    `json:"nanoCPUs,omitempty"`
	Pids       int64    `json:"pids,omitempty"`
	CPUShares  int64    `json:"cpuShares,omitempty"`
}

// runtimeItems compares the runtime settings and the stack's own labels
// of a running instance with what svc asks for, where the runtime has
// them (containers; local processes have neither).
func (c *comparer) runtimeItems(svc *render.Service, in Instance, slot string) []Item {
	var items []Item
	item := func(field, want, have string) {
		items = append(items, Item{Kind: KindRuntime, Instance: slot, Field: field, Want: want, Have: have})
	}
	have := in.Runtime
	if have == nil {
		return items
	}
	var labels map[string]string
	if svc.Runtime != nil {
		labels = svc.Runtime.Labels
	}
	// Only the stack's labels: the engine adds the image's, and ladder's
	// own are compared as such.
	for _, k := range sortedMapKeys(labels) {
		if h, ok := in.Labels[k]; !ok || h != labels[k] {
			item("label "+k, c.text(labels[k], true), c.text(h, ok))
		}
	}
	var want render.Runtime
	if svc.Runtime != nil {
		want = *svc.Runtime
	}
	// An image's USER is the container's when the stack sets none.
	if want.User != "" && want.User != have.User {
		item("user", c.text(want.User, true), c.text(have.User, true))
	}
	if want.ReadOnly != have.ReadOnly {
		item("read_only", strconv.FormatBool(want.ReadOnly), strconv.FormatBool(have.ReadOnly))
	}
	if want.Privileged != have.Privileged {
		item("privileged", strconv.FormatBool(want.Privileged), strconv.FormatBool(have.Privileged))
	}
	if w, h := caps(want.CapAdd), caps(have.CapAdd); !slices.Equal(w, h) {
		item("cap_add", fmt.Sprintf("%q", w), fmt.Sprintf("%q", h))
	}
	if w, h := caps(want.CapDrop), caps(have.CapDrop); !slices.Equal(w, h) {
		item("cap_drop", fmt.Sprintf("%q", w), fmt.Sprintf("%q", h))
	}
	lim, err := svc.EffectiveLimits()
	if err != nil {
		return items
	}
	num := func(field string, w, h int64) {
		if w != h {
			item(field, strconv.FormatInt(w, 10), strconv.FormatInt(h, 10))
		}
	}
	num("memory", lim.Memory, have.Memory)
	num("nano_cpus", int64(lim.CPUs*1e9), have.NanoCPUs)
	num("pids_limit", lim.Pids, have.Pids)
	num("cpu_shares", lim.CPUShares, have.CPUShares)
	return items
}

// caps normalises capability names as the engine may report them
// ("CAP_NET_ADMIN" for "NET_ADMIN"), sorted.
func caps(l []string) []string {
	out := make([]string, 0, len(l))
	for _, c := range l {
		c = strings.ToUpper(c)
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedMapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
