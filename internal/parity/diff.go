package parity

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ladderhq/ladder/internal/render"
	"github.com/ladderhq/ladder/internal/snapshot"
)

// Classes of a difference.
const (
	ClassAllowed   = "allowed"
	ClassViolation = "violation"
)

// Reasons a difference is allowed, or what a violation changes.
const (
	ReasonScale       = "scale"
	ReasonTier        = "tier"
	ReasonEndpoint    = "endpoint"
	ReasonFeatureFlag = "feature flag"
	ReasonSecret      = "secret"
	ReasonDefinition  = "definition: must be the same on every rung"
)

// absent is shown for a side that has no value.
const absent = "-"

// DiffLine is one field of one service that differs between two renders.
type DiffLine struct {
	Service string `json:"service"`
	Field   string `json:"field"`
	A       string `json:"a"`
	B       string `json:"b"`
	// Class is ClassAllowed or ClassViolation.
	Class  string `json:"class"`
	Reason string `json:"reason"`
}

// DiffReport is every difference between the renders of a snapshot on two
// rungs, by service (in A's order, then services only B runs) and field.
type DiffReport struct {
	A          render.SiteRef `json:"a"`
	B          render.SiteRef `json:"b"`
	SnapshotA  string         `json:"snapshotA"`
	SnapshotB  string         `json:"snapshotB"`
	Lines      []DiffLine     `json:"lines"`
	Violations int            `json:"violations"`
}

// OK reports whether the renders differ only in what may differ.
func (r *DiffReport) OK() bool { return r.Violations == 0 }

// Diff compares two renders, normally of the same snapshot on two rungs.
// Scale, tier, endpoints, feature flags and secrets may differ; the
// digest, argv, working directory, health check, container ports,
// dependencies and the rest of the definition may not. Secret values are
// never in the report.
func Diff(a, b *render.Desired) *DiffReport {
	r := &DiffReport{A: a.SiteRef, B: b.SiteRef, SnapshotA: a.Snapshot, SnapshotB: b.Snapshot, Lines: []DiffLine{}}
	if a.Snapshot != b.Snapshot {
		r.add("", "snapshot", snapshot.Short(a.Snapshot), snapshot.Short(b.Snapshot), ClassViolation, "another snapshot: compare one snapshot on two rungs")
	}
	if x, y := strings.Join(a.Networks, " "), strings.Join(b.Networks, " "); x != y {
		r.add("", "networks", or(x), or(y), ClassViolation, ReasonDefinition)
	}
	if x, y := strings.Join(a.Volumes, " "), strings.Join(b.Volumes, " "); x != y {
		r.add("", "volumes", or(x), or(y), ClassViolation, ReasonDefinition)
	}
	for i := range a.Services {
		sa := &a.Services[i]
		sb, ok := b.Service(sa.Name)
		if !ok {
			r.add(sa.Name, "service", "runs", "not run", ClassAllowed, ReasonTier)
			continue
		}
		r.service(sa, sb)
	}
	for i := range b.Services {
		if _, ok := a.Service(b.Services[i].Name); !ok {
			r.add(b.Services[i].Name, "service", "not run", "runs", ClassAllowed, ReasonTier)
		}
	}
	return r
}

func (r *DiffReport) add(svc, field, a, b, class, reason string) {
	r.Lines = append(r.Lines, DiffLine{Service: svc, Field: field, A: a, B: b, Class: class, Reason: reason})
	if class == ClassViolation {
		r.Violations++
	}
}

func (r *DiffReport) service(a, b *render.Service) {
	n := a.Name
	def := func(field, x, y string) {
		if x != y {
			r.add(n, field, or(x), or(y), ClassViolation, ReasonDefinition)
		}
	}
	def("digest", a.Digest, b.Digest)
	def("entrypoint", argv(a.Entrypoint), argv(b.Entrypoint))
	def("command", argv(a.Command), argv(b.Command))
	def("working dir", a.WorkingDir, b.WorkingDir)
	def("health", health(a.Health), health(b.Health))
	def("metrics", endpoint(a.Metrics), endpoint(b.Metrics))
	def("ports", targets(a.Ports), targets(b.Ports))
	def("depends on", deps(a.DependsOn), deps(b.DependsOn))
	def("job", a.Job, b.Job)
	def("restart", restart(a), restart(b))
	def("stop grace", a.StopGrace.String(), b.StopGrace.String())
	def("networks", strings.Join(a.Networks, " "), strings.Join(b.Networks, " "))
	def("volumes", mounts(a.Volumes), mounts(b.Volumes))

	if a.Replicas != b.Replicas {
		r.add(n, "replicas", strconv.Itoa(a.Replicas), strconv.Itoa(b.Replicas), ClassAllowed, ReasonScale)
	}
	if x, y := resources(a.Resources), resources(b.Resources); x != y {
		r.add(n, "resources", x, y, ClassAllowed, ReasonScale)
	}
	// Published ports of the container ports both sides have.
	for _, pa := range a.Ports {
		for _, pb := range b.Ports {
			if pa.Target == pb.Target && pa.Protocol == pb.Protocol && pa.Published != pb.Published {
				r.add(n, fmt.Sprintf("published %d/%s", pa.Target, pa.Protocol), published(pa), published(pb), ClassAllowed, ReasonEndpoint)
			}
		}
	}
	keys := append(sorted(a.Environment), sorted(b.Environment)...)
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		x, xok := a.Environment[k]
		y, yok := b.Environment[k]
		if xok == yok && x == y {
			continue
		}
		if a.Secret(k) || b.Secret(k) {
			r.add(n, "env "+k, redact(xok), redact(yok), ClassAllowed, ReasonSecret)
			continue
		}
		r.add(n, "env "+k, value(x, xok), value(y, yok), ClassAllowed, envReason(x, y))
	}
}

// envReason tells an endpoint (either side names a host) from a flag.
func envReason(a, b string) string {
	if len(hosts(a)) > 0 || len(hosts(b)) > 0 {
		return ReasonEndpoint
	}
	return ReasonFeatureFlag
}

// String is the report as an aligned table, then a verdict.
func (r *DiffReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s vs %s, snapshot %s\n", r.A, r.B, snapshot.Short(r.SnapshotA))
	if len(r.Lines) == 0 {
		fmt.Fprintf(&b, "no differences: %s and %s render the same\n", r.A.Env, r.B.Env)
		return b.String()
	}
	ha, hb := r.A.Env, r.B.Env
	if r.A.Site != r.B.Site || ha == hb {
		ha, hb = r.A.String(), r.B.String()
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "SERVICE\tFIELD\t%s\t%s\tCLASS\tREASON\n", strings.ToUpper(ha), strings.ToUpper(hb))
	for _, l := range r.Lines {
		if l.Field == "digest" {
			l.A, l.B = short(l.A), short(l.B)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", or(l.Service), l.Field, l.A, l.B, l.Class, l.Reason)
	}
	tw.Flush()
	if r.Violations == 0 {
		fmt.Fprintf(&b, "%d difference(s), all allowed: %s and %s differ only in scale, tier, endpoints, flags and secrets\n", len(r.Lines), r.A.Env, r.B.Env)
	} else {
		fmt.Fprintf(&b, "%d difference(s), %d violation(s) of the parity contract\n", len(r.Lines), r.Violations)
	}
	return b.String()
}

func short(digest string) string {
	if digest == absent {
		return digest
	}
	return snapshot.Short(digest)
}

func or(s string) string {
	if s == "" {
		return absent
	}
	return s
}

func value(v string, ok bool) string {
	if !ok {
		return absent
	}
	return strconv.Quote(v)
}

func redact(ok bool) string {
	if !ok {
		return absent
	}
	return render.Redacted
}

func argv(a []string) string {
	if a == nil {
		return ""
	}
	return fmt.Sprintf("%q", a)
}

func health(h *render.Health) string {
	if h == nil {
		return ""
	}
	how := argv(h.Command)
	if h.HTTP != nil {
		how = strings.TrimSpace(fmt.Sprintf("GET :%d%s %s", h.HTTP.Port, h.HTTP.Path, how))
	}
	return fmt.Sprintf("%s every %s timeout %s retries %d start %s", how, h.Interval, h.Timeout, h.Retries, h.StartPeriod)
}

func endpoint(e *render.Endpoint) string {
	if e == nil {
		return ""
	}
	return fmt.Sprintf(":%d%s", e.Port, e.Path)
}

func targets(ps []render.Port) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprintf("%d/%s", p.Target, p.Protocol)
	}
	return strings.Join(s, " ")
}

func published(p render.Port) string {
	if p.Published == 0 {
		return "auto"
	}
	return strconv.Itoa(p.Published)
}

func deps(ds []render.Dependency) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.Service + " (" + d.Condition + ")"
	}
	return strings.Join(s, ", ")
}

func restart(s *render.Service) string {
	if s.MaxRestarts > 0 {
		return fmt.Sprintf("%s:%d", s.Restart, s.MaxRestarts)
	}
	return s.Restart
}

func mounts(ms []render.Mount) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = fmt.Sprintf("%s %s:%s", m.Type, m.Source, m.Target)
		if m.ReadOnly {
			s[i] += ":ro"
		}
	}
	return strings.Join(s, " ")
}

func resources(r *render.Resources) string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("cpus %s memory %s", or(r.CPUs), or(r.Memory))
}
