package parity

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ladderhq/ladder/internal/spec"
)

// productionData reports values of rungs whose data is not real that point
// at a host the values of a `data: real` rung point at: a lower rung
// reading or writing production data.
func (l *linter) productionData() {
	type use struct{ env, svc, key string }
	real := map[string]use{}
	services := l.p.Stack.Compose.Services
	for _, e := range l.p.Ladder.Environments {
		if e.Data != spec.DataReal {
			continue
		}
		for _, svc := range sorted(e.Values.Services) {
			env := e.Values.Services[svc].Environment
			for _, k := range sorted(env) {
				for _, h := range hosts(env[k]) {
					if _, seen := real[h]; !seen && !local(h, services) {
						real[h] = use{e.Name, svc, k}
					}
				}
			}
		}
		// A site's endpoints are its values too.
		for _, site := range e.Sites {
			for _, k := range sorted(site.Values.Endpoints) {
				for _, h := range hosts(site.Values.Endpoints[k]) {
					if _, seen := real[h]; !seen && !local(h, services) {
						real[h] = use{e.Name, "sites." + site.Name, "endpoints." + k}
					}
				}
			}
		}
	}
	if len(real) == 0 {
		return
	}
	for _, e := range l.p.Ladder.Environments {
		if e.Data == spec.DataReal {
			continue
		}
		for _, svc := range sorted(e.Values.Services) {
			env := e.Values.Services[svc].Environment
			for _, k := range sorted(env) {
				for _, h := range hosts(env[k]) {
					u, ok := real[h]
					if !ok {
						continue
					}
					l.add(RuleProductionData, l.p.LadderPos("environments", e.Name, "values", "services", svc, "environment", k),
						"%s points at %s, which %s (data: real) uses in %s.%s: this copies production data into a lower rung (%s has data: %s); give %s its own endpoint",
						k, h, u.env, u.svc, u.key, e.Name, e.Data, e.Name)
					break
				}
			}
		}
		for i, site := range e.Sites {
			for _, k := range sorted(site.Values.Endpoints) {
				for _, h := range hosts(site.Values.Endpoints[k]) {
					u, ok := real[h]
					if !ok {
						continue
					}
					l.add(RuleProductionData, l.p.LadderPos("environments", e.Name, "sites", strconv.Itoa(i), "values", "endpoints", k),
						"endpoint %s of site %s points at %s, which %s (data: real) uses in %s.%s: this copies production data into a lower rung (%s has data: %s); give %s its own endpoint",
						k, site.Name, h, u.env, u.svc, u.key, e.Name, e.Data, e.Name)
					break
				}
			}
		}
	}
}

var (
	hostPortRe = regexp.MustCompile(`^\[?([A-Za-z0-9.:-]+?)\]?:[0-9]{1,5}$`)
	hostRe     = regexp.MustCompile(`^[A-Za-z0-9.-]*[A-Za-z][A-Za-z0-9.-]*$`)
	domainRe   = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$`)
	splitRe    = regexp.MustCompile(`[\s,;]+`)
)

// hosts lists the host names and addresses a value points at, lower-cased:
// the host of each URL, of each host:port, and bare domain names and IP
// addresses, in a value or in a list of them.
func hosts(v string) []string {
	var out []string
	add := func(h string) {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	for _, tok := range splitRe.Split(strings.TrimSpace(v), -1) {
		if tok == "" {
			continue
		}
		if u := parseURL(tok); u != nil {
			add(u.Hostname())
			continue
		}
		if m := hostPortRe.FindStringSubmatch(tok); m != nil && (net.ParseIP(m[1]) != nil || hostRe.MatchString(m[1])) {
			add(m[1])
			continue
		}
		if net.ParseIP(tok) != nil || domainRe.MatchString(tok) {
			add(tok)
		}
	}
	return out
}

// parseURL returns v as a URL when it is one with a host, else nil.
func parseURL(v string) *url.URL {
	if !strings.Contains(v, "://") {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return nil
	}
	return u
}

// local reports hosts that are not shared between rungs even when written
// the same: the stack's own services (each rung has its own), single-label
// names (resolved in the network the rung runs in) and the machine a rung
// runs on.
func local[V any](h string, services map[string]V) bool {
	if _, ok := services[h]; ok {
		return true
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback() || ip.IsUnspecified()
	}
	return !strings.Contains(h, ".") || h == "host.docker.internal" || strings.HasSuffix(h, ".localhost")
}
