package spec

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

type decInner struct {
	Name  string        `yaml:"name"`
	Delay time.Duration `yaml:"delay"`
}

type decEntry struct {
	ID    string `yaml:",key"`
	Value int    `yaml:"value"`
}

type decAll struct {
	S       string              `yaml:"s"`
	B       bool                `yaml:"b"`
	I       int                 `yaml:"i"`
	I8      int8                `yaml:"i8"`
	U       uint16              `yaml:"u"`
	F       float64             `yaml:"f"`
	D       time.Duration       `yaml:"d"`
	P       *int                `yaml:"p"`
	PS      *decInner           `yaml:"ps"`
	L       []string            `yaml:"l"`
	M       map[string]int      `yaml:"m"`
	Inner   decInner            `yaml:"inner"`
	Keyed   []decEntry          `yaml:"keyed"`
	Structs []decInner          `yaml:"structs"`
	MS      map[string]decInner `yaml:"ms"`
	Skip    string              `yaml:"-"`
	Plain   string
}

func decodeString(t *testing.T, src string, out any) Diagnostics {
	t.Helper()
	root, ds := parseYAML("f.yaml", []byte(src))
	if ds != nil {
		t.Fatalf("parse: %v", ds)
	}
	return DecodeNode(root, out, "f.yaml", "")
}

func intp(i int) *int { return &i }

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want decAll
	}{
		{"empty", "", decAll{}},
		{"string from any scalar", "s: 1.5", decAll{S: "1.5"}},
		{"bool", "b: true", decAll{B: true}},
		{"ints", "i: -42\ni8: 127\nu: 0x10", decAll{I: -42, I8: 127, U: 16}},
		{"float from int", "f: 3", decAll{F: 3}},
		{"float", "f: 2.5", decAll{F: 2.5}},
		{"duration", "d: 1m30s", decAll{D: 90 * time.Second}},
		{"pointer", "p: 7", decAll{P: intp(7)}},
		{"null pointer stays nil", "p: null\nps: ~", decAll{}},
		{"pointer to struct", "ps: {name: x}", decAll{PS: &decInner{Name: "x"}}},
		{"empty pointer struct value", "ps: {}", decAll{PS: &decInner{}}},
		{"slice", "l: [a, b]", decAll{L: []string{"a", "b"}}},
		{"map", "m: {a: 1, b: 2}", decAll{M: map[string]int{"a": 1, "b": 2}}},
		{"nested struct", "inner:\n  name: n\n  delay: 2s", decAll{Inner: decInner{Name: "n", Delay: 2 * time.Second}}},
		{"keyed list keeps document order", "keyed:\n  zeta: {value: 1}\n  alpha: {value: 2}\n  mid:",
			decAll{Keyed: []decEntry{{ID: "zeta", Value: 1}, {ID: "alpha", Value: 2}, {ID: "mid"}}}},
		{"slice of structs", "structs:\n  - name: a\n  - name: b", decAll{Structs: []decInner{{Name: "a"}, {Name: "b"}}}},
		{"map of structs", "ms:\n  x: {name: y}", decAll{MS: map[string]decInner{"x": {Name: "y"}}}},
		{"untagged field lowercased", "plain: v", decAll{Plain: "v"}},
		{"anchors and merge keys", "inner: &base\n  name: a\n  delay: 1s\nps:\n  <<: *base\n  name: b",
			decAll{Inner: decInner{Name: "a", Delay: time.Second}, PS: &decInner{Name: "b", Delay: time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got decAll
			if ds := decodeString(t, tt.src, &got); ds != nil {
				t.Fatalf("unexpected diagnostics:\n%v", ds)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // Diagnostic.String() of each, in order
	}{
		{"unknown key with suggestion", "inner:\n  nmae: x",
			[]string{`f.yaml:2:3: inner.nmae: unknown field "nmae" (did you mean "name"?)`}},
		{"unknown key without suggestion", "whatever: 1",
			[]string{`f.yaml:1:1: whatever: unknown field "whatever"`}},
		{"skipped field is unknown", "skip: x",
			[]string{`f.yaml:1:1: skip: unknown field "skip"`}},
		{"string given a mapping", "s: {a: 1}",
			[]string{`f.yaml:1:4: s: must be a string, not a mapping`}},
		{"bool given a string", "b: yes",
			[]string{`f.yaml:1:4: b: must be a boolean (true or false), not "yes"`}},
		{"int given a float", "i: 1.5",
			[]string{`f.yaml:1:4: i: must be an integer, not the number 1.5`}},
		{"int out of range", "i8: 300",
			[]string{`f.yaml:1:5: i8: 300 is out of range for an integer`}},
		{"uint given a negative", "u: -1",
			[]string{`f.yaml:1:4: u: -1 is out of range for a non-negative integer`}},
		{"float given a string", "f: fast",
			[]string{`f.yaml:1:4: f: must be a number, not "fast"`}},
		{"duration without unit", "d: 60",
			[]string{`f.yaml:1:4: d: must be a duration with a unit, like "60s", not a bare number`}},
		{"bad duration", "d: soon",
			[]string{`f.yaml:1:4: d: must be a duration like "60s" or "1m30s", not "soon"`}},
		{"list given a scalar", "l: a",
			[]string{`f.yaml:1:4: l: must be a list, not "a"`}},
		{"map given a list", "m: [1]",
			[]string{`f.yaml:1:4: m: must be a mapping, not a list`}},
		{"keyed list given a list", "keyed: [a]",
			[]string{`f.yaml:1:8: keyed: must be a mapping of names to settings, not a list`}},
		{"duplicate keys", "s: a\ns: b\nkeyed:\n  x: {}\n  x: {}",
			[]string{
				`f.yaml:2:1: s: duplicate key "s" (first defined at line 1)`,
				`f.yaml:5:3: keyed.x: duplicate key "x" (first defined at line 4)`,
			}},
		{"all errors collected with paths", "inner:\n  delay: x\nstructs:\n  - name: [a]\n  - nam: b\nms:\n  k: {delay: 5}\nm: {a: b}",
			[]string{
				`f.yaml:2:10: inner.delay: must be a duration like "60s" or "1m30s", not "x"`,
				`f.yaml:4:11: structs[0].name: must be a string, not a list`,
				`f.yaml:5:5: structs[1].nam: unknown field "nam" (did you mean "name"?)`,
				`f.yaml:7:14: ms.k.delay: must be a duration with a unit, like "5s", not a bare number`,
				`f.yaml:8:8: m.a: must be an integer, not "b"`,
			}},
		{"not a mapping at the root", "- a",
			[]string{`f.yaml:1:1: must be a mapping, not a list`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got decAll
			ds := decodeString(t, tt.src, &got)
			var lines []string
			for _, d := range ds {
				lines = append(lines, d.String())
			}
			if strings.Join(lines, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDecodeKeepsWhatItCould(t *testing.T) {
	var got decAll
	ds := decodeString(t, "s: ok\ni: nope\nl: [x]", &got)
	if len(ds) != 1 {
		t.Fatalf("want 1 diagnostic, got %v", ds)
	}
	if got.S != "ok" || !reflect.DeepEqual(got.L, []string{"x"}) {
		t.Errorf("partial decode lost values: %+v", got)
	}
}

func TestDecodeLadderKeyedEnvironments(t *testing.T) {
	var l Ladder
	src := "environments:\n  prod: {target: compose}\n  dev:\n  staging: {}\n"
	if ds := decodeString(t, src, &l); ds != nil {
		t.Fatal(ds)
	}
	var names []string
	for _, e := range l.Environments {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "prod,dev,staging" || l.Environments[0].Target != "compose" {
		t.Errorf("got %+v", l.Environments)
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		in, want string
		cands    []string
	}{
		{"prots", ` (did you mean "ports"?)`, []string{"image", "ports", "volumes"}},
		{"replica", ` (did you mean "replicas"?)`, []string{"replicas", "environment"}},
		{"enviroment", ` (did you mean "environment"?)`, []string{"replicas", "environment"}},
		{"xyz", "", []string{"replicas", "environment"}},
		{"a", "", []string{"bc"}},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, tt.cands); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"a", "", 1}, {"prots", "ports", 1}, {"kitten", "sitting", 3}, {"abc", "abc", 0}} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
