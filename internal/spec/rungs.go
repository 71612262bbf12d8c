package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Dependency tiers, lowest first: an environment running a tier runs every
// service of that tier and below.
const (
	TierLite     = "lite"
	TierStandard = "standard"
	TierFull     = "full"
)

// Tiers are the dependency tiers, lowest first.
var Tiers = []string{TierLite, TierStandard, TierFull}

// What an environment's data is.
const (
	DataThrowaway = "throwaway"
	DataSeeded    = "seeded"
	DataSynthetic = "synthetic"
	DataReal      = "real"
)

// DataKinds are the values of Environment.Data.
var DataKinds = []string{DataThrowaway, DataSeeded, DataSynthetic, DataReal}

// Kinds of job services (x-ladder.job).
const (
	JobMigration = "migration"
	JobSeed      = "seed"
)

// JobKinds are the values of ServiceExt.Job.
var JobKinds = []string{JobMigration, JobSeed}

// Defaults of the rung settings.
const (
	DefaultData        = DataSeeded
	DefaultTier        = TierFull // an environment's values.tier
	DefaultServiceTier = TierLite // a service's x-ladder.tier
	DefaultGateTimeout = 60 * time.Second
)

// ForbiddenValueFields are the service fields a values overlay may not set:
// they define what runs and must be the same on every rung. Setting one is
// not a load error; ServiceValues.Forbidden keeps it for `ladder lint`.
var ForbiddenValueFields = []string{
	"image", "build", "command", "entrypoint", "healthcheck", "depends_on",
	"working_dir", "volumes", "x-ladder", "labels", "user",
}

var (
	secretNameRe = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	envVarRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	cpusRe       = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$|^\.[0-9]+$`)
	memoryRe     = regexp.MustCompile(`(?i)^[0-9]+(\.[0-9]+)?\s*([kmgt]i?b?|b)?$`)
)

// ValidSecretName reports whether name can name a secret: upper-case
// letters, digits and '_', not starting with a digit.
func ValidSecretName(name string) bool { return secretNameRe.MatchString(name) }

// TierRank orders tiers: lite 0, standard 1, full 2; -1 for anything else.
func TierRank(tier string) int { return slices.Index(Tiers, tier) }

// ServiceTier is the lowest tier the service runs in (default lite).
func (x ServiceExt) ServiceTier() string {
	if x.Tier == "" {
		return DefaultServiceTier
	}
	return x.Tier
}

// Tier is the dependency tier the environment runs (default full).
func (e *Environment) Tier() string {
	if e.Values.Tier == "" {
		return DefaultTier
	}
	return e.Values.Tier
}

// Runs reports whether a service with extension x runs on the environment:
// its tier is not above the environment's.
func (e *Environment) Runs(x ServiceExt) bool {
	return TierRank(x.ServiceTier()) <= TierRank(e.Tier())
}

// unknownKey keeps a forbidden field of an overlay aside for lint.
func (sv *ServiceValues) unknownKey(k *yaml.Node, file, path string) bool {
	if !slices.Contains(ForbiddenValueFields, k.Value) {
		return false
	}
	sv.Forbidden = append(sv.Forbidden, ForbiddenField{Field: k.Value, File: file, Line: k.Line, Col: max(k.Column, 1), Path: path})
	return true
}

// checkRung checks what ties environment i to the others (from, gates,
// data, tier, secrets).
func (doc *ladderDoc) checkRung(i int, base []string) Diagnostics {
	l := doc.ladder
	e := l.Environments[i]
	var ds Diagnostics
	value := func(segs ...string) location { return doc.locate(append(slices.Clone(base), segs...)...) }
	add := func(n *yaml.Node, path, msg string) { ds = append(ds, at(doc.file, n, path, msg)) }

	if e.From != "" {
		loc := value("from")
		j, ok := doc.rungIndex()[e.From]
		switch {
		case !ok:
			var names []string
			for _, o := range l.Environments[:i] {
				names = append(names, o.Name)
			}
			add(loc.Value, loc.Path, fmt.Sprintf("environment %s promotes from %s, which is not defined%s", Quote(e.Name), Quote(e.From), suggest(e.From, names)))
		case j >= i:
			add(loc.Value, loc.Path, fmt.Sprintf("environment %s promotes from %s, which is not an earlier rung", Quote(e.Name), Quote(e.From)))
		case l.Environments[j].Template:
			add(loc.Value, loc.Path, fmt.Sprintf("environment %s promotes from %s, a template: templates are instantiated per pull request, never promoted from", Quote(e.Name), Quote(e.From)))
		}
	}
	if e.Data != "" && !slices.Contains(DataKinds, e.Data) {
		loc := value("data")
		add(loc.Value, loc.Path, fmt.Sprintf("unknown data %q: must be one of %s%s", e.Data, strings.Join(DataKinds, ", "), suggest(e.Data, DataKinds)))
	}
	if e.Values.Tier != "" && !slices.Contains(Tiers, e.Values.Tier) {
		loc := value("values", "tier")
		add(loc.Value, loc.Path, fmt.Sprintf("unknown tier %q: must be one of %s%s", e.Values.Tier, strings.Join(Tiers, ", "), suggest(e.Values.Tier, Tiers)))
	}

	if e.Gates.Soak < 0 {
		loc := value("gates", "soak")
		add(loc.Value, loc.Path, fmt.Sprintf("must be 0 or more, not %s", e.Gates.Soak))
	}
	if e.Gates.Approvals < 0 {
		loc := value("gates", "approvals")
		add(loc.Value, loc.Path, fmt.Sprintf("must be 0 or more, not %d", e.Gates.Approvals))
	}
	if r := e.Gates.MaxErrorRate; r != nil && !(*r >= 0 && *r <= 1) {
		loc := value("gates", "maxErrorRate")
		add(loc.Value, loc.Path, fmt.Sprintf("must be a fraction from 0 to 1 (0.05 is 5%%), not %v", *r))
	}
	if e.Gates.MaxP95 < 0 {
		loc := value("gates", "maxP95")
		add(loc.Value, loc.Path, fmt.Sprintf("must be 0 (no limit) or more, not %s", e.Gates.MaxP95))
	}
	tests := map[string]int{}
	for t, gt := range e.Gates.Tests {
		idx := strconv.Itoa(t)
		self := value("gates", "tests", idx)
		if n := resolve(self.Value); n == nil || n.Kind != yaml.MappingNode {
			continue // the decoder said what it must be
		}
		switch name := value("gates", "tests", idx, "name"); {
		case gt.Name == "":
			add(self.Value, self.Path, "a gate test needs a name, like \"smoke\"")
		case tests[gt.Name] > 0:
			add(name.Value, name.Path, fmt.Sprintf("duplicate gate test name %q (also tests[%d])", gt.Name, tests[gt.Name]-1))
		default:
			tests[gt.Name] = t + 1
		}
		if len(gt.Command) == 0 || gt.Command[0] == "" {
			loc := value("gates", "tests", idx, "command")
			n, path := loc.Value, loc.Path
			if loc.Found < len(base)+4 {
				n, path = self.Value, self.Path+".command"
			}
			add(n, path, "a gate test needs a command, as a list: [\"/bin/sh\", \"-c\", \"...\"]")
		}
		ds = append(ds, doc.positive(append(slices.Clone(base), "gates", "tests", idx, "timeout"))...)
		declared := map[string]int{}
		for v, entry := range gt.Env {
			loc := value("gates", "tests", idx, "env", strconv.Itoa(v))
			name, _, _ := strings.Cut(entry, "=")
			switch {
			case !envVarRe.MatchString(name):
				add(loc.Value, loc.Path, fmt.Sprintf("%q is not an environment variable: want NAME (passed on) or NAME=value", entry))
			case IsLadderSecretVar(name):
				add(loc.Value, loc.Path, fmt.Sprintf("%s is never given to gate tests: it holds one of ladder's secrets", name))
			case declared[name] > 0:
				add(loc.Value, loc.Path, fmt.Sprintf("%s is declared twice (also env[%d])", name, declared[name]-1))
			default:
				declared[name] = v + 1
			}
		}
	}

	seen := map[string]int{}
	for s, name := range e.Secrets {
		loc := value("secrets", strconv.Itoa(s))
		if !ValidSecretName(name) {
			add(loc.Value, loc.Path, fmt.Sprintf("secret name %q must be upper-case letters, digits and '_', like DATABASE_PASSWORD", name))
		}
		if j, dup := seen[name]; dup {
			add(loc.Value, loc.Path, fmt.Sprintf("duplicate secret %q (also secrets[%d])", name, j))
		} else {
			seen[name] = s
		}
	}
	return ds
}

// rungIndex maps each environment's name to its first position.
func (doc *ladderDoc) rungIndex() map[string]int {
	if doc.rungs == nil {
		doc.rungs = make(map[string]int, len(doc.ladder.Environments))
		for i, e := range doc.ladder.Environments {
			if _, dup := doc.rungs[e.Name]; !dup {
				doc.rungs[e.Name] = i
			}
		}
	}
	return doc.rungs
}

// checkServiceValues checks the secrets and resources of one service's
// overlay; segs is the path of the overlay.
func (doc *ladderDoc) checkServiceValues(sv ServiceValues, segs []string) Diagnostics {
	var ds Diagnostics
	report := func(loc location, useKey bool, msg string) {
		n := loc.Value
		if useKey {
			n = loc.keyNode()
		}
		ds = append(ds, at(doc.file, n, loc.Path, msg))
	}
	for _, v := range sortedKeys(sv.Secrets) {
		loc := doc.locate(append(slices.Clone(segs), "secrets", v)...)
		if !envVarRe.MatchString(v) {
			report(loc, true, fmt.Sprintf("%q is not an environment variable name: letters, digits and '_', not starting with a digit", v))
		}
		if _, plain := sv.Environment[v]; plain {
			report(loc, true, fmt.Sprintf("%s is set both as a secret and in environment: keep one", v))
		}
		if name := sv.Secrets[v]; !ValidSecretName(name) {
			report(loc, false, fmt.Sprintf("secret name %q must be upper-case letters, digits and '_', like DATABASE_PASSWORD", name))
		}
	}
	if r := sv.Resources; r != nil {
		if r.CPUs != "" {
			if f, err := strconv.ParseFloat(r.CPUs, 64); !cpusRe.MatchString(r.CPUs) || err != nil || f <= 0 {
				report(doc.locate(append(slices.Clone(segs), "resources", "cpus")...), false,
					fmt.Sprintf("cpus must be a positive number of CPUs, like \"0.5\" or \"2\", not %q", r.CPUs))
			}
		}
		if r.Memory != "" && !memoryRe.MatchString(r.Memory) {
			report(doc.locate(append(slices.Clone(segs), "resources", "memory")...), false,
				fmt.Sprintf("memory must be a size like \"512m\" or \"1g\", not %q", r.Memory))
		}
	}
	return ds
}

// checkExt checks the tier and job of one service's x-ladder.
func checkExt(file string, root *yaml.Node, name string, ext ServiceExt) Diagnostics {
	var ds Diagnostics
	if ext.Tier != "" && !slices.Contains(Tiers, ext.Tier) {
		loc := locate(root, "services", name, ExtensionKey, "tier")
		ds = append(ds, at(file, loc.Value, loc.Path, fmt.Sprintf("unknown tier %q: must be one of %s%s", ext.Tier, strings.Join(Tiers, ", "), suggest(ext.Tier, Tiers))))
	}
	if ext.Job != "" && !slices.Contains(JobKinds, ext.Job) {
		loc := locate(root, "services", name, ExtensionKey, "job")
		ds = append(ds, at(file, loc.Value, loc.Path, fmt.Sprintf("unknown job %q: must be one of %s%s", ext.Job, strings.Join(JobKinds, ", "), suggest(ext.Job, JobKinds))))
	}
	return ds
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
