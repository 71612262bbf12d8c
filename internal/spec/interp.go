package spec

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// interpolator substitutes variables in a yaml.Node tree with compose-go's
// own template engine and type casts. compose-go's Interpolate works on a
// map and stops reporting positions (list indexes become "[]"), so the walk
// is done here over nodes: every failing value gets its own positioned
// diagnostic, and the result keeps the line:col of the source.
type interpolator struct {
	ctx    context.Context
	file   string
	opts   interpolation.Options
	casted map[*yaml.Node]any
	casts  map[tree.Path]interpolation.Cast // per path: matching is costly
	diags  Diagnostics
	// walked counts nodes visited, to look at ctx now and then; err is
	// ctx's error once it is seen, after which the walks stop.
	walked int
	err    error
	// logs, when set, catches compose-go's warnings (an unset variable),
	// which become warnings at the value that caused them.
	logs     *logHook
	warnings Diagnostics
	seen     map[string]bool
}

// stopped reports whether the walk must stop because ctx is done.
func (ip *interpolator) stopped() bool {
	if ip.err == nil {
		if ip.walked++; ip.walked%1024 == 0 {
			ip.err = ip.ctx.Err()
		}
	}
	return ip.err != nil
}

func newInterpolator(ctx context.Context, file string, env types.Mapping) *interpolator {
	// ToOptions is how compose-go builds its interpolation options; taking
	// them from there keeps the substitution rules and the per-field casts
	// (ports targets, replicas, booleans...) exactly compose's.
	details := types.ConfigDetails{Environment: env}
	o := loader.ToOptions(&details, nil).Interpolate
	return &interpolator{ctx: ctx, file: file, opts: *o, casted: map[*yaml.Node]any{}, casts: map[tree.Path]interpolation.Cast{}}
}

// interpolate returns a substituted copy of n; the input tree is left alone
// so positions of the raw file stay available.
func (ip *interpolator) interpolate(n *yaml.Node, cp tree.Path, path string) *yaml.Node {
	n = resolve(n)
	if n == nil || ip.stopped() {
		return nil
	}
	out := *n
	switch n.Kind {
	case yaml.MappingNode:
		out.Content = make([]*yaml.Node, len(n.Content))
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			out.Content[i] = k
			if isMergeKey(k) {
				out.Content[i+1] = ip.interpolate(v, cp, path)
				continue
			}
			out.Content[i+1] = ip.interpolate(v, cp.Next(k.Value), joinPath(path, k.Value))
		}
	case yaml.SequenceNode:
		out.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			out.Content[i] = ip.interpolate(c, cp.Next(tree.PathMatchList), indexPath(path, i))
		}
	case yaml.ScalarNode:
		if scalarTag(n) != "!!str" {
			return &out
		}
		logged := 0
		if ip.logs != nil {
			logged = ip.logs.count()
		}
		s, err := ip.opts.Substitute(n.Value, template.Mapping(ip.opts.LookupValue))
		if ip.logs != nil {
			for _, msg := range ip.logs.since(logged) {
				if !ip.seen[msg] {
					ip.seen[msg] = true
					ip.warnings = append(ip.warnings, warningAt(ip.file, n, path, unsetMsg(msg)))
				}
			}
		}
		if err != nil {
			ip.diags = append(ip.diags, at(ip.file, n, path, interpolationMsg(err)))
			return &out
		}
		out.Value, out.Tag = s, "!!str"
		if cast, ok := ip.caster(cp); ok {
			v, err := cast(s)
			if err != nil {
				ip.diags = append(ip.diags, at(ip.file, n, path, castMsg(s, err)))
				return &out
			}
			ip.casted[&out] = v
		}
	}
	return &out
}

func (ip *interpolator) caster(p tree.Path) (interpolation.Cast, bool) {
	if c, ok := ip.casts[p]; ok {
		return c, c != nil
	}
	var cast interpolation.Cast
	for pattern, c := range ip.opts.TypeCastMapping {
		if p.Matches(pattern) {
			cast = c
			break
		}
	}
	ip.casts[p] = cast
	return cast, cast != nil
}

// scalarTag is the tag a scalar resolves to; custom tags (compose's !reset,
// !override) are read as the plain scalar they carry.
func scalarTag(n *yaml.Node) string {
	if n.Tag != "" && !strings.HasPrefix(n.Tag, "!!") {
		c := *n
		c.Tag, c.Style = "", c.Style&^yaml.TaggedStyle
		return c.ShortTag()
	}
	return n.ShortTag()
}

var unsetRe = regexp.MustCompile(`^The "([^"]+)" variable is not set`)

func unsetMsg(msg string) string {
	if m := unsetRe.FindStringSubmatch(msg); m != nil {
		return "variable " + m[1] + " is not set: an empty string is used (write ${" + m[1] + ":-default} or ${" + m[1] + ":?why} to say what you mean)"
	}
	return msg
}

func warningAt(file string, n *yaml.Node, path, msg string) Diagnostic {
	d := at(file, n, path, msg)
	d.Severity = SeverityWarning
	return d
}

func interpolationMsg(err error) string {
	var inv *template.InvalidTemplateError
	if errors.As(err, &inv) {
		return fmt.Sprintf("invalid interpolation format %q (write a literal $ as $$)", inv.Template)
	}
	return err.Error()
}

func castMsg(value string, err error) string {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return fmt.Sprintf("failed to cast to expected type: %q is not a valid number", value)
	}
	return "failed to cast to expected type: " + err.Error()
}

// toModel turns an (interpolated) node tree into the generic model that
// compose-go's loader would build from the same YAML, for schema
// validation. Non-string keys are reported, as compose-go rejects them.
func (ip *interpolator) toModel(n *yaml.Node, path string) any {
	n = resolve(n)
	if n == nil || ip.stopped() {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		// Merged entries first, so the mapping's own keys override them.
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !isMergeKey(n.Content[i]) {
				continue
			}
			src := resolve(n.Content[i+1])
			srcs := []*yaml.Node{src}
			if src != nil && src.Kind == yaml.SequenceNode {
				srcs = src.Content
			}
			for j := len(srcs) - 1; j >= 0; j-- {
				if sm, ok := ip.toModel(srcs[j], path).(map[string]any); ok {
					for k, v := range sm {
						m[k] = v
					}
				}
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if isMergeKey(k) {
				continue
			}
			p := joinPath(path, k.Value)
			if k.Kind != yaml.ScalarNode || scalarTag(k) != "!!str" {
				ip.diags = append(ip.diags, at(ip.file, k, p, fmt.Sprintf("key %s must be a string (quote it)", k.Value)))
				continue
			}
			m[k.Value] = ip.toModel(v, p)
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			l[i] = ip.toModel(c, indexPath(path, i))
		}
		return l
	case yaml.ScalarNode:
		if v, ok := ip.casted[n]; ok {
			return v
		}
		c := *n
		if c.Tag != "" && !strings.HasPrefix(c.Tag, "!!") {
			c.Tag = scalarTag(n)
		}
		var v any
		if err := c.Decode(&v); err != nil {
			ip.diags = append(ip.diags, at(ip.file, n, path, err.Error()))
		}
		return v
	}
	return nil
}
