package parity

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ladderhq/ladder/internal/drift"
	"github.com/ladderhq/ladder/internal/spec"
)

// Rule IDs, as reported in Violation.Rule.
const (
	RuleForbiddenField    = "forbidden-field"
	RulePlainSecret       = "plain-secret"
	RuleMissingSecret     = "missing-secret"
	RuleProductionData    = "production-data"
	RuleRungOrder         = "rung-order"
	RuleTierDependency    = "tier-dependency"
	RuleProtectedUnsigned = "protected-unsigned"
)

// Rule describes one lint rule.
type Rule struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
}

// Rules are every rule Lint checks.
var Rules = []Rule{
	{RuleForbiddenField, "a values overlay sets what must be the same on every rung (image, build, command, entrypoint, healthcheck, depends_on, working_dir, volumes, x-ladder, labels, user)"},
	{RulePlainSecret, "a values environment variable holds a secret in plain text (by its name, or a credential in its value)"},
	{RuleMissingSecret, "a secret an environment uses or lists is not set for it"},
	{RuleProductionData, "a rung whose data is not real points at an endpoint of a rung with real data"},
	{RuleRungOrder, "an environment after the first, not a template, does not say which rung it promotes from"},
	{RuleTierDependency, "a service that runs on an environment's tier depends on one that does not"},
	{RuleProtectedUnsigned, "a protected environment does not gate promotions on a verified signature"},
}

// Violation is one breach of the parity contract, at the place in the
// files that causes it.
type Violation struct {
	Rule    string `json:"rule"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

// String is "file:line:col: path: message (rule RULE)".
func (v Violation) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s (rule %s)", v.File, v.Line, v.Col, v.Path, v.Message, v.Rule)
}

// Lint checks the project's files against the parity contract and returns
// every violation, sorted by file and position. secretNames lists the
// secrets set for an environment (nil: none is set).
func Lint(p *spec.Project, secretNames func(env string) []string) []Violation {
	l := &linter{p: p, secretNames: secretNames}
	for i := range p.Ladder.Environments {
		e := &p.Ladder.Environments[i]
		l.forbidden(e)
		l.plainSecrets(e)
		l.missingSecrets(e)
		l.rungOrder(i, e)
		l.protected(e)
	}
	l.productionData()
	l.tierDependencies()
	slices.SortStableFunc(l.out, func(a, b Violation) int {
		switch {
		case a.File != b.File:
			return strings.Compare(a.File, b.File)
		case a.Line != b.Line:
			return a.Line - b.Line
		case a.Col != b.Col:
			return a.Col - b.Col
		case a.Rule != b.Rule:
			return strings.Compare(a.Rule, b.Rule)
		}
		return strings.Compare(a.Message, b.Message)
	})
	return l.out
}

type linter struct {
	p           *spec.Project
	secretNames func(env string) []string
	out         []Violation
}

func (l *linter) add(rule string, pos spec.Pos, format string, args ...any) {
	l.out = append(l.out, Violation{Rule: rule, File: pos.File, Line: max(pos.Line, 1), Col: max(pos.Col, 1), Path: pos.Path, Message: fmt.Sprintf(format, args...)})
}

// what names a forbidden field in a message.
var what = map[string]string{
	"image":       "the image",
	"build":       "the build (and so the image)",
	"command":     "the command",
	"entrypoint":  "the entrypoint",
	"healthcheck": "the healthcheck",
	"depends_on":  "the dependencies (depends_on)",
	"working_dir": "the working directory",
	"volumes":     "the volumes",
	"x-ladder":    "the x-ladder settings",
	"labels":      "the labels",
	"user":        "the user",
}

func (l *linter) forbidden(e *spec.Environment) {
	for _, svc := range sorted(e.Values.Services) {
		for _, f := range e.Values.Services[svc].Forbidden {
			name := what[f.Field]
			if name == "" {
				name = "the " + f.Field
			}
			hint := "set it in compose.yaml for every rung"
			switch f.Field {
			case "x-ladder", "depends_on":
				hint += "; which services run on a rung is its values.tier"
			}
			l.add(RuleForbiddenField, spec.Pos{File: f.File, Line: f.Line, Col: f.Col, Path: f.Path},
				"%s must not differ between environments: %s", name, hint)
		}
	}
}

func (l *linter) plainSecrets(e *spec.Environment) {
	for _, svc := range sorted(e.Values.Services) {
		env := e.Values.Services[svc].Environment
		for _, k := range sorted(env) {
			why := ""
			switch {
			case drift.DefaultSecret(k):
				why = "its name says it holds a secret"
			case credential(env[k]):
				why = "its value holds a credential"
			default:
				continue
			}
			l.add(RulePlainSecret, l.p.LadderPos("environments", e.Name, "values", "services", svc, "environment", k),
				"%s is set in plain text but %s: use values.services.%s.secrets {%s: %s} and `ladder secret set %s %s`",
				k, why, svc, k, secretNameFor(k), e.Name, secretNameFor(k))
		}
	}
}

// credential reports whether v carries a password: a URL with
// user:password@, or a password= setting (a DSN).
func credential(v string) bool {
	if u := parseURL(v); u != nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			return true
		}
	}
	lv := strings.ToLower(v)
	return strings.Contains(lv, "password=") || strings.Contains(lv, "passwd=")
}

// secretNameFor suggests a secret name for an environment variable.
func secretNameFor(k string) string {
	n := strings.ToUpper(k)
	if spec.ValidSecretName(n) {
		return n
	}
	return "NAME"
}

func (l *linter) missingSecrets(e *spec.Environment) {
	var have []string
	if l.secretNames != nil {
		have = l.secretNames(e.Name)
	}
	set := map[string]bool{}
	for _, n := range have {
		set[n] = true
	}
	report := func(name string, pos spec.Pos) {
		if !set[name] {
			l.add(RuleMissingSecret, pos, "secret %s is not set for %s: ladder secret set %s %s", name, e.Name, e.Name, name)
		}
	}
	for i, name := range e.Secrets {
		report(name, l.p.LadderPos("environments", e.Name, "secrets", fmt.Sprint(i)))
	}
	for _, svc := range sorted(e.Values.Services) {
		secrets := e.Values.Services[svc].Secrets
		for _, k := range sorted(secrets) {
			report(secrets[k], l.p.LadderPos("environments", e.Name, "values", "services", svc, "secrets", k))
		}
	}
}

func (l *linter) rungOrder(i int, e *spec.Environment) {
	if i == 0 || e.Template || e.From != "" {
		return
	}
	prev := ""
	for _, o := range l.p.Ladder.Environments[:i] {
		if !o.Template {
			prev = o.Name
		}
	}
	hint := "add `from: ENV` naming an earlier rung"
	if prev != "" {
		hint = fmt.Sprintf("add `from: %s` (or another earlier rung)", prev)
	}
	l.add(RuleRungOrder, l.p.LadderPos("environments", e.Name),
		"environment %s does not say which rung it promotes from, so a snapshot could reach it without running anywhere first: %s", e.Name, hint)
}

func (l *linter) protected(e *spec.Environment) {
	if !e.Protected || e.Gates.Signed {
		return
	}
	l.add(RuleProtectedUnsigned, l.p.LadderPos("environments", e.Name, "protected"),
		"%s is protected, so its deploys verify the snapshot's signature, but its gates do not: add `gates: {signed: true}` so an unsigned snapshot is refused at promotion, not at deploy", e.Name)
}

// tierDependencies reports each depends_on edge that breaks on some
// environment's tier: the dependent runs there, the dependency does not.
func (l *linter) tierDependencies() {
	cp := l.p.Stack.Compose
	for _, svc := range sorted(cp.Services) {
		for _, dep := range sorted(cp.Services[svc].DependsOn) {
			x, dx := l.p.Stack.Ext[svc], l.p.Stack.Ext[dep]
			var where []string
			for i := range l.p.Ladder.Environments {
				e := &l.p.Ladder.Environments[i]
				if e.Runs(x) && !e.Runs(dx) {
					where = append(where, fmt.Sprintf("%s (tier %s)", e.Name, e.Tier()))
				}
			}
			if len(where) == 0 {
				continue
			}
			l.add(RuleTierDependency, l.p.StackPos("services", svc, "depends_on", dep),
				"%s (x-ladder tier %s) depends on %s, which runs only from tier %s: it would run without it on %s; give %s a higher tier or %s a lower one",
				svc, x.ServiceTier(), dep, dx.ServiceTier(), strings.Join(where, ", "), svc, dep)
		}
	}
}

func sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
