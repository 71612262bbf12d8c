package spec

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"gopkg.in/yaml.v3"
)

// Defaults applied to what ladder.yaml leaves out.
const (
	DefaultState     = ".ladder"
	DefaultTarget    = "auto"
	DefaultSite      = "default"
	DefaultDashboard = "127.0.0.1:7700"
	DefaultEnvName   = "local"

	DefaultHealthTimeout     = 60 * time.Second
	DefaultTelemetryInterval = 2 * time.Second
)

// Targets are the runtime kinds an environment may ask for.
var Targets = []string{"auto", "process", "compose", "hybrid"}

// dnsLabel keeps environment and site names usable in host names, container
// names and directory names alike.
var dnsLabel = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// ladderDoc is a parsed ladder.yaml: the decoded value plus its node tree,
// kept for positioning the checks that need the stack first.
type ladderDoc struct {
	file   string // as shown in diagnostics
	root   *yaml.Node
	ladder *Ladder
	// envs indexes the environments mapping by name: every check of a
	// rung locates its fields, and a scan of the mapping each time made
	// checking a long ladder quadratic.
	envs  map[string]location
	rungs map[string]int // environment name -> index in ladder.Environments
}

// locate is locate(doc.root, segs...), in constant time for the
// environment's key when segs starts with "environments", NAME.
func (doc *ladderDoc) locate(segs ...string) location {
	if len(segs) < 2 || segs[0] != "environments" {
		return locate(doc.root, segs...)
	}
	if doc.envs == nil {
		doc.envs = map[string]location{}
		if loc := locate(doc.root, "environments"); loc.Found == 1 {
			if m := resolve(loc.Value); m != nil && m.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(m.Content); i += 2 {
					k := m.Content[i]
					if _, dup := doc.envs[k.Value]; !dup && !isMergeKey(k) {
						doc.envs[k.Value] = location{Key: k, Value: m.Content[i+1], Path: joinPath("environments", k.Value), Found: 2}
					}
				}
			}
		}
	}
	env, ok := doc.envs[segs[1]]
	if !ok {
		return locate(doc.root, segs...) // from a merge key, or absent
	}
	sub := locate(env.Value, segs[2:]...)
	if sub.Found == 0 {
		return env
	}
	sep := "."
	if strings.HasPrefix(sub.Path, "[") {
		sep = ""
	}
	return location{Key: sub.Key, Value: sub.Value, Path: env.Path + sep + sub.Path, Found: 2 + sub.Found}
}

// parseLadder decodes ladder.yaml strictly; the result is usable (partly
// decoded) even when diagnostics are returned.
func parseLadder(file string, content []byte) (*ladderDoc, Diagnostics) {
	doc := &ladderDoc{file: file, ladder: &Ladder{}}
	root, ds := parseYAML(file, content)
	if ds != nil {
		return doc, ds
	}
	doc.root = root
	return doc, DecodeNode(root, doc.ladder, file, "")
}

// DefaultLadder is the ladder used when a project has no ladder.yaml: one
// environment, "local", with every default.
func DefaultLadder() *Ladder {
	l := &Ladder{Environments: []Environment{{Name: DefaultEnvName}}}
	applyDefaults(l)
	return l
}

func applyDefaults(l *Ladder) {
	if l.State == "" {
		l.State = DefaultState
	}
	for i := range l.Environments {
		e := &l.Environments[i]
		if e.Target == "" {
			e.Target = DefaultTarget
		}
		if len(e.Sites) == 0 {
			e.Sites = []Site{{Name: DefaultSite}}
		}
		if e.Dashboard == "" {
			e.Dashboard = DefaultDashboard
		}
		if e.Health.Timeout == 0 {
			e.Health.Timeout = DefaultHealthTimeout
		}
		if e.Telemetry.Interval == 0 {
			e.Telemetry.Interval = DefaultTelemetryInterval
		}
		if e.Data == "" {
			e.Data = DefaultData
		}
		if e.Values.Tier == "" {
			e.Values.Tier = DefaultTier
		}
		for t := range e.Gates.Tests {
			if e.Gates.Tests[t].Timeout == 0 {
				e.Gates.Tests[t].Timeout = DefaultGateTimeout
			}
		}
	}
}

// check runs the semantic checks of ladder.yaml. services are the stack's
// service names, or nil when the stack could not be read at all (then
// values.services is not checked, to avoid reporting every name).
func (doc *ladderDoc) check(services []string) Diagnostics {
	if doc.root == nil {
		return nil
	}
	var ds Diagnostics
	add := func(loc location, useKey bool, msg string) {
		n := loc.Value
		if useKey {
			n = loc.keyNode()
		}
		ds = append(ds, at(doc.file, n, loc.Path, msg))
	}
	l := doc.ladder
	if len(l.Environments) == 0 {
		loc := doc.locate("environments")
		if loc.Found == 0 || isNull(resolve(loc.Value)) || resolve(loc.Value).Kind == yaml.MappingNode {
			add(loc, true, "at least one environment is required")
		}
	}
	bad := l.Retention.check()
	for _, field := range sortedKeys(bad) {
		add(locate(doc.root, "retention", field), false, bad[field])
	}
	for i, e := range l.Environments {
		base := []string{"environments", e.Name}
		if !dnsLabel.MatchString(e.Name) {
			add(doc.locate(base...), true, fmt.Sprintf("environment name %q must be a DNS label: lowercase letters, digits and '-', starting with a letter, at most 31 characters", e.Name))
		}
		if e.Target != "" && !slices.Contains(Targets, e.Target) {
			add(doc.locate(append(base, "target")...), false,
				fmt.Sprintf("unknown target %q: must be one of auto, process, compose, hybrid%s", e.Target, suggest(e.Target, Targets)))
		}
		seen := map[string]int{}
		for i, s := range e.Sites {
			entry := doc.locate(append(base, "sites", strconv.Itoa(i))...)
			loc := entry
			if nl := doc.locate(append(base, "sites", strconv.Itoa(i), "name")...); nl.Found == len(base)+3 {
				loc = nl
			}
			switch {
			case notMapping(entry, len(base)+2):
				// Decoding has said what is wrong with it.
			case s.Name == "":
				add(loc, false, "site name is required")
			case !dnsLabel.MatchString(s.Name):
				add(loc, false, fmt.Sprintf("site name %q must be a DNS label: lowercase letters, digits and '-', starting with a letter, at most 31 characters", s.Name))
			}
			if j, dup := seen[s.Name]; dup && s.Name != "" {
				add(loc, false, fmt.Sprintf("duplicate site name %q (also sites[%d])", s.Name, j))
			}
			seen[s.Name] = i
			ds = append(ds, doc.checkSite(s, append(slices.Clone(base), "sites", strconv.Itoa(i)))...)
		}
		if e.Dashboard != "" {
			if msg := checkHostPort(e.Dashboard); msg != "" {
				add(doc.locate(append(base, "dashboard")...), false, msg)
			} else if !e.DashboardAllowRemote && !IsLoopback(e.Dashboard) {
				add(doc.locate(append(base, "dashboard")...), false, RemoteDashboardMsg(e.Dashboard)+"; set dashboard_allow_remote: true if that is meant")
			}
		}
		if e.Registry != nil {
			loc := locate(doc.root, append(base, "registry")...)
			if al := locate(doc.root, append(base, "registry", "address")...); al.Found == len(base)+2 {
				loc = al
			}
			if msg := checkRegistry(e.Registry.Address); msg != "" {
				add(loc, false, msg)
			}
		}
		ds = append(ds, doc.positive(append(base, "health", "timeout"))...)
		ds = append(ds, doc.positive(append(base, "telemetry", "interval"))...)
		ds = append(ds, doc.checkValues(e, base, services)...)
		ds = append(ds, doc.checkRung(i, base)...)
	}
	return ds
}

// positive reports a duration that was written but is zero or negative.
// Values that did not parse were already reported by the decoder.
func (doc *ladderDoc) positive(segs []string) Diagnostics {
	loc := doc.locate(segs...)
	if loc.Found != len(segs) {
		return nil
	}
	n := resolve(loc.Value)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return nil
	}
	if d, err := time.ParseDuration(n.Value); err == nil && d <= 0 {
		return Diagnostics{at(doc.file, n, loc.Path, fmt.Sprintf("must be a positive duration, not %q", n.Value))}
	}
	return nil
}

func (doc *ladderDoc) checkValues(e Environment, base []string, services []string) Diagnostics {
	var ds Diagnostics
	names := make([]string, 0, len(e.Values.Services))
	for name := range e.Values.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		segs := append(slices.Clone(base), "values", "services", name)
		if services != nil && !slices.Contains(services, name) {
			loc := doc.locate(segs...)
			ds = append(ds, at(doc.file, loc.keyNode(), loc.Path,
				fmt.Sprintf("unknown service %q: not defined in the stack%s", name, suggest(name, services))))
		}
		if r := e.Values.Services[name].Replicas; r != nil && *r < 0 {
			loc := doc.locate(append(segs, "replicas")...)
			ds = append(ds, at(doc.file, loc.Value, loc.Path, fmt.Sprintf("must be 0 or more, not %d", *r)))
		}
		ds = append(ds, doc.checkServiceValues(e.Values.Services[name], segs)...)
		ports := make([]string, 0, len(e.Values.Services[name].Ports))
		for k := range e.Values.Services[name].Ports {
			ports = append(ports, k)
		}
		slices.Sort(ports)
		for _, k := range ports {
			loc := doc.locate(append(segs, "ports", k)...)
			if n, err := strconv.Atoi(k); err != nil || n < 1 || n > 65535 {
				ds = append(ds, at(doc.file, loc.keyNode(), loc.Path, fmt.Sprintf("%q is not a container port: want a number from 1 to 65535", k)))
			}
			if v := e.Values.Services[name].Ports[k]; v < 0 || v > 65535 {
				ds = append(ds, at(doc.file, loc.Value, loc.Path, fmt.Sprintf("host port must be from 0 (any free port) to 65535, not %d", v)))
			}
		}
	}
	return ds
}

// checkHostPort accepts what net.Listen accepts for TCP, with a numeric
// port: "127.0.0.1:7700", ":7700", "[::1]:0", "localhost:8080".
func checkHostPort(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		reason := err.Error()
		var ae *net.AddrError
		if errors.As(err, &ae) {
			reason = ae.Err
		}
		return fmt.Sprintf("must be an address host:port, like %q: %s", DefaultDashboard, reason)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Sprintf("port %q must be a number from 0 to 65535", port)
	}
	if host != "" && net.ParseIP(host) == nil && !hostname.MatchString(host) {
		return fmt.Sprintf("host %q is neither an IP address nor a host name", host)
	}
	return ""
}

// IsLoopback reports whether a listen address (host:port) only accepts
// connections from this machine: a loopback IP or "localhost". An empty
// host, 0.0.0.0 or :: listen on every interface; any other name may
// resolve to anything.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RemoteDashboardMsg says why a dashboard address other machines reach is
// refused unless allowed.
func RemoteDashboardMsg(addr string) string {
	return fmt.Sprintf("dashboard address %s is reachable from other machines: anyone who reaches it reads the environment's state, and changes need a token, sent over plain HTTP", Quote(addr))
}

var hostname = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// checkRegistry accepts a registry address host[:port][/path], the way
// image references name a registry and repository prefix.
func checkRegistry(addr string) string {
	if addr == "" {
		return "registry address is required: host[:port][/path], like \"registry.example.com/team\" or \"127.0.0.1:5000\""
	}
	if strings.Contains(addr, "://") {
		return fmt.Sprintf("registry address %q must not have a scheme: write host[:port][/path] (insecure: true for plain HTTP)", addr)
	}
	host, path, _ := strings.Cut(strings.TrimSuffix(addr, "/"), "/")
	if _, err := name.NewRegistry(host, name.StrictValidation); err != nil {
		return fmt.Sprintf("registry address %q: %q is not a registry host[:port]", addr, host)
	}
	if path != "" {
		if _, err := name.NewRepository(host+"/"+path, name.StrictValidation); err != nil || strings.ContainsAny(path, ":@") {
			return fmt.Sprintf("registry address %q: %q is not a repository path (lowercase letters, digits, '.', '_', '-' and '/'; no tag or digest)", addr, path)
		}
	}
	return ""
}

// notMapping reports whether loc reached all its depth segments and found
// a node that is not a mapping there, which decoding has already reported.
func notMapping(loc location, depth int) bool {
	v := resolve(loc.Value)
	return loc.Found == depth && v != nil && v.Kind != yaml.MappingNode
}
