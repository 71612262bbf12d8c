package spec

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DecodeNode decodes node into out (a non-nil pointer) strictly: unknown
// keys, duplicate keys and type mismatches are all reported, each with its
// position, instead of stopping at the first. file names the source in the
// diagnostics and path is the field path of node ("" at the document root).
//
// Go types map to YAML as follows: string (any scalar), bool, ints, uints,
// float64, time.Duration (a Go duration string such as "60s"), pointers
// (null leaves them nil), slices (a sequence), map[string]T (a mapping),
// structs (a mapping, keys from `yaml` tags) and keyed lists: a slice of
// structs whose element has a field tagged `yaml:",key"` is written as a
// mapping, the key going into that field, so document order is kept.
//
// Whatever could be decoded is decoded even when problems are reported, so
// later checks can run on the rest.
func DecodeNode(node *yaml.Node, out any, file, path string) Diagnostics {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		panic("spec.DecodeNode: out must be a non-nil pointer")
	}
	d := &decoder{file: file}
	d.decode(node, v.Elem(), path)
	return d.diags
}

type decoder struct {
	file  string
	diags Diagnostics
}

var durationType = reflect.TypeFor[time.Duration]()

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.diags = append(d.diags, at(d.file, n, path, fmt.Sprintf(format, args...)))
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	if n == nil || isNull(n) {
		// An empty value leaves the field at its default, as if absent.
		return
	}
	if v.Type() == durationType {
		d.duration(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		if f, ok := keyField(v.Type().Elem()); ok {
			d.keyedList(n, v, f, path)
			return
		}
		d.slice(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorf(n, path, "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		d.scalar(n, v, path)
	}
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	want := typeName(v.Type())
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "must be %s, not %s", want, kindName(n))
		return
	}
	tag := n.ShortTag()
	switch v.Kind() {
	case reflect.String:
		// Any scalar reads as text: `version: 1.2` means the string.
		v.SetString(n.Value)
		return
	case reflect.Bool:
		if tag == "!!bool" {
			b, err := strconv.ParseBool(strings.ToLower(n.Value))
			if err == nil {
				v.SetBool(b)
				return
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if tag == "!!int" {
			i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, v.Type().Bits())
			if err == nil {
				v.SetInt(i)
				return
			}
			d.errorf(n, path, "%s is out of range for %s", n.Value, want)
			return
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if tag == "!!int" {
			u, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, v.Type().Bits())
			if err == nil {
				v.SetUint(u)
				return
			}
			d.errorf(n, path, "%s is out of range for %s", n.Value, want)
			return
		}
	case reflect.Float32, reflect.Float64:
		if tag == "!!int" || tag == "!!float" {
			var f float64
			if err := n.Decode(&f); err == nil && !math.IsNaN(f) {
				v.SetFloat(f)
				return
			}
		}
	default:
		d.errorf(n, path, "cannot decode into Go type %s", v.Type())
		return
	}
	d.errorf(n, path, "must be %s, not %s", want, describe(n))
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		if dur, err := time.ParseDuration(n.Value); err == nil {
			v.SetInt(int64(dur))
			return
		}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		d.errorf(n, path, "must be a duration with a unit, like \"%ss\", not a bare number", n.Value)
		return
	}
	d.errorf(n, path, "must be a duration like \"60s\" or \"1m30s\", not %s", describe(n))
}

// fieldInfo is one decodable field of a struct.
type fieldInfo struct {
	name  string
	index int
}

func structFields(t reflect.Type) (fields []fieldInfo, key int) {
	key = -1
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if opts == "key" {
			key = i
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields = append(fields, fieldInfo{name: name, index: i})
	}
	return fields, key
}

// keyField reports whether t (a slice element type) is a struct with a
// `yaml:",key"` field, which makes a slice of it a keyed list.
func keyField(t reflect.Type) (int, bool) {
	if t.Kind() != reflect.Struct {
		return -1, false
	}
	_, key := structFields(t)
	return key, key >= 0
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && v.CanAddr() {
		if h, ok := v.Addr().Interface().(scalarHook); ok && h.fromScalar(n) {
			return
		}
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping, not %s", describe(n))
		return
	}
	fields, _ := structFields(v.Type())
	names := make([]string, len(fields))
	byName := map[string]int{}
	for i, f := range fields {
		names[i] = f.name
		byName[f.name] = f.index
	}
	var hook unknownKeyHook
	if v.CanAddr() {
		hook, _ = v.Addr().Interface().(unknownKeyHook)
	}
	d.entries(n, path, func(k, val *yaml.Node, p string) {
		idx, ok := byName[k.Value]
		if !ok {
			if hook != nil && hook.unknownKey(k, d.file, p) {
				return
			}
			d.errorf(k, p, "unknown field %q%s", k.Value, suggest(k.Value, names))
			return
		}
		d.decode(val, v.Field(idx), p)
	})
}

// scalarHook is implemented by structs that may also be written as one
// scalar (a registry as its address alone); fromScalar reports whether it
// took the scalar.
type scalarHook interface {
	fromScalar(n *yaml.Node) bool
}

// unknownKeyHook is implemented by structs that set some keys their fields
// do not name aside, with their positions, instead of reporting them as
// unknown (ServiceValues keeps the fields an overlay must not change, for
// `ladder lint`). unknownKey reports whether it took the key.
type unknownKeyHook interface {
	unknownKey(k *yaml.Node, file, path string) bool
}

// entries calls fn for each key of a mapping after reporting non-string
// and duplicate keys (which are then skipped). Merge keys are expanded, the
// mapping's own keys winning over merged ones as in YAML decoding.
func (d *decoder) entries(n *yaml.Node, path string, fn func(k, v *yaml.Node, p string)) {
	first := map[string]*yaml.Node{}
	var merged [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			src := resolve(val)
			srcs := []*yaml.Node{src}
			if src != nil && src.Kind == yaml.SequenceNode {
				srcs = src.Content
			}
			for _, s := range srcs {
				if s = resolve(s); s != nil && s.Kind == yaml.MappingNode {
					for j := 0; j+1 < len(s.Content); j += 2 {
						merged = append(merged, [2]*yaml.Node{s.Content[j], s.Content[j+1]})
					}
				}
			}
			continue
		}
		p := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be scalars, not %s", kindName(k))
			continue
		}
		if f, dup := first[k.Value]; dup {
			d.errorf(k, p, "%s", duplicateMsg(k.Value, f))
			continue
		}
		first[k.Value] = k
		fn(k, val, p)
	}
	for _, kv := range merged {
		if _, own := first[kv[0].Value]; own || kv[0].Kind != yaml.ScalarNode {
			continue
		}
		first[kv[0].Value] = kv[0]
		fn(kv[0], kv[1], joinPath(path, kv[0].Value))
	}
}

func (d *decoder) keyedList(n *yaml.Node, v reflect.Value, key int, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping of names to settings, not %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content)/2)
	d.entries(n, path, func(k, val *yaml.Node, p string) {
		elem := reflect.New(v.Type().Elem()).Elem()
		elem.Field(key).SetString(k.Value)
		d.decode(val, elem, p)
		out = reflect.Append(out, elem)
	})
	v.Set(out)
}

func (d *decoder) slice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "must be a list, not %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.decode(c, out.Index(i), indexPath(path, i))
	}
	v.Set(out)
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if v.Type().Key().Kind() != reflect.String {
		d.errorf(n, path, "cannot decode into Go type %s", v.Type())
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping, not %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	d.entries(n, path, func(k, val *yaml.Node, p string) {
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, p)
		v.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	})
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return "a duration"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a scalar"
}

// describe names what the user wrote, for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return kindName(n)
	}
	switch n.ShortTag() {
	case "!!int":
		return "the number " + n.Value
	case "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	}
	return strconv.Quote(n.Value)
}

// suggest returns ` (did you mean "x"?)` for the candidate closest to s,
// or "" when none is close enough to be a plausible typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", math.MaxInt
	for _, c := range candidates {
		if dist := editDistance(strings.ToLower(s), strings.ToLower(c)); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	limit := max(1, min(3, len(s)/3))
	if best == "" || bestDist > limit {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal string alignment distance: Levenshtein plus
// transposition of adjacent characters, the commonest typo ("prots").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
