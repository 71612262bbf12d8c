package drift

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ladderhq/ladder/internal/render"
)

// portDiff is one container port whose host ports differ from the desired.
type portDiff struct{ field, want, have string }

type portKey struct {
	target int
	proto  string
}

// comparePorts compares, container port by container port, the host ports
// an instance publishes with the desired ones: a fixed desired port must
// be published as is, an automatic one (0) on any host port, and nothing
// else may be published. Ports the instance only exposes (Published 0) are
// not compared: images declare ports they never publish.
func comparePorts(want, have []render.Port) []portDiff {
	fixed := map[portKey]map[int]bool{}
	auto := map[portKey]int{}
	ranges := map[portKey][][2]int{}
	published := map[portKey]map[int]bool{}
	keys := map[portKey]bool{}
	for _, p := range want {
		k := portKey{p.Target, protocol(p.Protocol)}
		keys[k] = true
		if p.Published == 0 {
			auto[k]++
			continue
		}
		if p.PublishedEnd != 0 {
			ranges[k] = append(ranges[k], [2]int{p.Published, p.PublishedEnd})
			continue
		}
		addPort(fixed, k, p.Published)
	}
	for _, p := range have {
		if p.Published == 0 {
			continue
		}
		k := portKey{p.Target, protocol(p.Protocol)}
		keys[k] = true
		// A runtime may list one binding per host address (IPv4 and
		// IPv6); the set keeps each host port once.
		addPort(published, k, p.Published)
	}

	sorted := make([]portKey, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].target != sorted[j].target {
			return sorted[i].target < sorted[j].target
		}
		return sorted[i].proto < sorted[j].proto
	})

	var out []portDiff
	for _, k := range sorted {
		if portsMatch(fixed[k], auto[k]+len(ranges[k]), published[k]) && inRanges(fixed[k], ranges[k], published[k]) {
			continue
		}
		var w []string
		for _, p := range sortedPorts(fixed[k]) {
			w = append(w, strconv.Itoa(p))
		}
		for _, r := range ranges[k] {
			w = append(w, fmt.Sprintf("%d-%d", r[0], r[1]))
		}
		for range auto[k] {
			w = append(w, AnyPort)
		}
		var h []string
		for _, p := range sortedPorts(published[k]) {
			h = append(h, strconv.Itoa(p))
		}
		out = append(out, portDiff{
			field: fmt.Sprintf("%d/%s", k.target, k.proto),
			want:  joinOr(w, Unpublished),
			have:  joinOr(h, Unpublished),
		})
	}
	return out
}

// portsMatch: every fixed port is published, and exactly one more host
// port is published for each automatic one.
func portsMatch(fixed map[int]bool, auto int, published map[int]bool) bool {
	for p := range fixed {
		if !published[p] {
			return false
		}
	}
	return len(published) == len(fixed)+auto
}

// inRanges: each desired range ("8000-8002:80") has its own published
// port within it, beside the fixed ones. portsMatch counted a range as an
// automatic port.
func inRanges(fixed map[int]bool, ranges [][2]int, published map[int]bool) bool {
	used := map[int]bool{}
	for _, r := range ranges {
		found := false
		for _, p := range sortedPorts(published) {
			if !fixed[p] && !used[p] && p >= r[0] && p <= r[1] {
				used[p], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func addPort(m map[portKey]map[int]bool, k portKey, port int) {
	if m[k] == nil {
		m[k] = map[int]bool{}
	}
	m[k][port] = true
}

// protocol defaults an empty protocol the way Compose does.
func protocol(p string) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(p)
}

func sortedPorts(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

func joinOr(parts []string, empty string) string {
	if len(parts) == 0 {
		return empty
	}
	return strings.Join(parts, ", ")
}
