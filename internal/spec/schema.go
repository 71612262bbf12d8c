package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

const schemaURL = "https://ladder.invalid/compose-spec.json"

var (
	schemaOnce     sync.Once
	compiledSchema *jsonschema.Schema
	rawSchema      map[string]any
	schemaErr      error
)

// composeSchema compiles compose-go's embedded schema once; validation is
// done here rather than by compose-go because compose-go keeps only the
// single most specific error of the whole file.
func composeSchema() (*jsonschema.Schema, map[string]any, error) {
	schemaOnce.Do(func() {
		if schemaErr = json.Unmarshal([]byte(schema.Schema), &rawSchema); schemaErr != nil {
			return
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema.Schema))
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		if schemaErr = c.AddResource(schemaURL, doc); schemaErr != nil {
			return
		}
		c.RegisterFormat(&jsonschema.Format{Name: "duration", Validate: func(v any) error {
			s, ok := v.(string)
			if !ok {
				return errors.New("expected string")
			}
			_, err := time.ParseDuration(s)
			return err
		}})
		compiledSchema, schemaErr = c.Compile(schemaURL)
	})
	return compiledSchema, rawSchema, schemaErr
}

// validateSchema checks model (the interpolated file) against the compose
// schema and reports every leaf error at the node it concerns.
//
// A valid file is checked with compose-go's own compiled schema (the same
// schema and formats), which its loader compiles anyway: ladder's copy,
// which keeps every error rather than the most specific one, is compiled
// only for a file that has errors. Compiling the schema is most of the
// cost of loading a small stack.
func validateSchema(file string, root *yaml.Node, model map[string]any) Diagnostics {
	if schema.Validate(model) == nil {
		return nil
	}
	sch, raw, err := composeSchema()
	if err != nil {
		return Diagnostics{at(file, root, "", "cannot compile the compose schema: "+err.Error())}
	}
	// The validator wants plain JSON types (float64, not int or uint64).
	b, err := json.Marshal(model)
	if err != nil {
		return Diagnostics{at(file, root, "", err.Error())}
	}
	var inst any
	if err := json.Unmarshal(b, &inst); err != nil {
		return Diagnostics{at(file, root, "", err.Error())}
	}
	var verr *jsonschema.ValidationError
	if err := sch.Validate(inst); !errors.As(err, &verr) {
		return nil
	}
	sv := schemaView{raw: raw}
	var ds Diagnostics
	seen := map[string]bool{}
	for _, leaf := range sv.leaves(verr) {
		for _, d := range sv.diagnose(file, root, leaf) {
			if key := d.String(); !seen[key] {
				seen[key] = true
				ds = append(ds, d)
			}
		}
	}
	return ds
}

type schemaView struct{ raw map[string]any }

// leaves flattens an error tree into the errors worth showing: every cause
// of an allOf-like node, but only the most specific alternative of a
// oneOf/anyOf, since listing why each alternative failed buries the one the
// user meant.
func (sv schemaView) leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		if sv.spurious(e) {
			return nil
		}
		return []*jsonschema.ValidationError{e}
	}
	switch e.ErrorKind.(type) {
	case *kind.OneOf, *kind.AnyOf:
		var best [][]*jsonschema.ValidationError
		bestScore := -1
		for _, c := range e.Causes {
			ls := sv.leaves(c)
			if len(ls) == 0 {
				continue
			}
			s := 0
			for _, l := range ls {
				s = max(s, specificity(l))
			}
			switch {
			case s > bestScore:
				best, bestScore = [][]*jsonschema.ValidationError{ls}, s
			case s == bestScore:
				best = append(best, ls)
			}
		}
		if len(best) == 0 {
			return nil
		}
		if merged := mergeTypeErrors(best); merged != nil {
			return []*jsonschema.ValidationError{merged}
		}
		return best[0]
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, sv.leaves(c)...)
	}
	return out
}

func specificity(e *jsonschema.ValidationError) int {
	n := 2 * len(e.InstanceLocation)
	switch e.ErrorKind.(type) {
	case *kind.AdditionalProperties, *kind.FalseSchema:
		n++
	case *kind.Type:
		// A type mismatch says least about what was meant: prefer an
		// alternative that got further into the value.
		n--
	}
	return n
}

// mergeTypeErrors turns "must be a string" and "must be a mapping" for the
// same value into one "must be a mapping or string".
func mergeTypeErrors(groups [][]*jsonschema.ValidationError) *jsonschema.ValidationError {
	if len(groups) < 2 {
		return nil
	}
	var want []string
	var loc []string
	for _, g := range groups {
		if len(g) != 1 {
			return nil
		}
		t, ok := g[0].ErrorKind.(*kind.Type)
		if !ok || (loc != nil && !slices.Equal(loc, g[0].InstanceLocation)) {
			return nil
		}
		loc = g[0].InstanceLocation
		want = append(want, t.Want...)
	}
	first := groups[0][0]
	got := first.ErrorKind.(*kind.Type).Got
	slices.Sort(want)
	return &jsonschema.ValidationError{
		SchemaURL:        first.SchemaURL,
		InstanceLocation: loc,
		ErrorKind:        &kind.Type{Got: got, Want: slices.Compact(want)},
	}
}

// spurious tells an unevaluatedProperties failure caused by a sibling
// error (the property is known, but the allOf branch declaring it failed
// elsewhere) from a real unknown property.
func (sv schemaView) spurious(e *jsonschema.ValidationError) bool {
	if _, ok := e.ErrorKind.(*kind.FalseSchema); !ok || len(e.InstanceLocation) == 0 {
		return false
	}
	parent, ok := strings.CutSuffix(e.SchemaURL, "/unevaluatedProperties")
	if !ok {
		return false
	}
	names, patterns := sv.properties(parent)
	prop := e.InstanceLocation[len(e.InstanceLocation)-1]
	if slices.Contains(names, prop) {
		return true
	}
	for _, p := range patterns {
		if p.MatchString(prop) {
			return true
		}
	}
	return false
}

// properties lists the property names (and name patterns) that the schema
// at url allows, following allOf/anyOf/oneOf and local $refs.
func (sv schemaView) properties(u string) ([]string, []*regexp.Regexp) {
	var names []string
	var patterns []*regexp.Regexp
	seen := map[string]bool{}
	var walk func(ptr string)
	walk = func(ptr string) {
		if seen[ptr] {
			return
		}
		seen[ptr] = true
		node, ok := sv.pointer(ptr).(map[string]any)
		if !ok {
			return
		}
		if ps, ok := node["properties"].(map[string]any); ok {
			for name := range ps {
				names = append(names, name)
			}
		}
		if ps, ok := node["patternProperties"].(map[string]any); ok {
			for p := range ps {
				if re, err := regexp.Compile(p); err == nil {
					patterns = append(patterns, re)
				}
			}
		}
		if ref, ok := node["$ref"].(string); ok && strings.HasPrefix(ref, "#") {
			walk(ref[1:])
		}
		for _, group := range []string{"allOf", "anyOf", "oneOf"} {
			subs, _ := node[group].([]any)
			for i := range subs {
				walk(fmt.Sprintf("%s/%s/%d", ptr, group, i))
			}
		}
	}
	_, frag, _ := strings.Cut(u, "#")
	walk(frag)
	slices.Sort(names)
	return names, patterns
}

// pointer resolves a JSON pointer (as found in a schema URL fragment)
// within the raw schema.
func (sv schemaView) pointer(ptr string) any {
	var cur any = sv.raw
	if ptr == "" {
		return cur
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		if t, err := url.PathUnescape(tok); err == nil {
			tok = t
		}
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			var i int
			if _, err := fmt.Sscan(tok, &i); err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// diagnose turns one leaf error into diagnostics (one per offending
// property for additionalProperties) worded like compose's messages.
func (sv schemaView) diagnose(file string, root *yaml.Node, e *jsonschema.ValidationError) Diagnostics {
	loc := locate(root, e.InstanceLocation...)
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		parent := strings.TrimSuffix(e.SchemaURL, "/additionalProperties")
		known, _ := sv.properties(parent)
		var ds Diagnostics
		for _, p := range k.Properties {
			pl := locate(root, append(slices.Clone(e.InstanceLocation), p)...)
			ds = append(ds, at(file, pl.keyNode(), pl.Path, unknownPropertyMsg(p, known)))
		}
		return ds
	case *kind.FalseSchema:
		if len(e.InstanceLocation) > 0 {
			parent := strings.TrimSuffix(e.SchemaURL, "/unevaluatedProperties")
			known, _ := sv.properties(parent)
			prop := e.InstanceLocation[len(e.InstanceLocation)-1]
			return Diagnostics{at(file, loc.keyNode(), loc.Path, unknownPropertyMsg(prop, known))}
		}
		return Diagnostics{at(file, loc.keyNode(), loc.Path, "is not allowed")}
	case *kind.Type:
		return Diagnostics{at(file, loc.Value, loc.Path, "must be "+article(humanTypes(k.Want)))}
	case *kind.Required:
		var ds Diagnostics
		for _, m := range k.Missing {
			ds = append(ds, at(file, loc.keyNode(), loc.Path, fmt.Sprintf("missing required property %q", m)))
		}
		return ds
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			b, _ := json.Marshal(w)
			want[i] = string(b)
		}
		return Diagnostics{at(file, loc.Value, loc.Path, "must be one of "+strings.Join(want, ", "))}
	case *kind.Minimum:
		return Diagnostics{at(file, loc.Value, loc.Path, fmt.Sprintf("must be greater than or equal to %s", k.Want.Num()))}
	case *kind.Maximum:
		return Diagnostics{at(file, loc.Value, loc.Path, fmt.Sprintf("must be less than or equal to %s", k.Want.Num()))}
	}
	// A Printer is not safe for concurrent use, and Load may be.
	return Diagnostics{at(file, loc.Value, loc.Path, e.ErrorKind.LocalizedString(message.NewPrinter(language.English)))}
}

func unknownPropertyMsg(prop string, known []string) string {
	return fmt.Sprintf("additional property %q is not allowed", prop) + suggest(prop, known)
}

func humanTypes(want []string) string {
	names := make([]string, len(want))
	for i, w := range want {
		if w == "object" {
			w = "mapping"
		}
		names[i] = w
	}
	slices.Sort(names)
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func article(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}
