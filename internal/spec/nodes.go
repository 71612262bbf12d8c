package spec

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yamlv4 "go.yaml.in/yaml/v4"
	"gopkg.in/yaml.v3"
)

// parseYAML parses one YAML document into a node tree. An empty file gives
// an empty mapping so callers need no special case for it. A tree over the
// budget (see checkBudget) is refused here, before anything expands its
// aliases; a file that cannot hold fewer nodes than twice the budget is
// refused before it is parsed, since parsing costs about 300 bytes of
// memory per node.
func parseYAML(file string, content []byte) (*yaml.Node, Diagnostics) {
	if n := separators(content); n > 2*MaxNodes {
		return nil, Diagnostics{{File: file, Line: 1, Col: 1, Message: fmt.Sprintf(
			"too many values: %s separators (, : - [ { and line breaks), where ladder reads at most %s YAML nodes: ladder refuses files this large",
			thousands(n), thousands(MaxNodes))}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil {
		return nil, Diagnostics{syntaxDiagnostic(file, content, err)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}, nil
	}
	if ds := checkBudget(file, doc.Content[0]); ds != nil {
		return nil, ds
	}
	return doc.Content[0], nil
}

// separators counts the bytes YAML separates values with. Every node but
// the first follows one of them (a list item its '-' or ',', a mapping
// value its ':', an entry its line break), so a file with n of them holds
// at most about n nodes, counted without parsing.
func separators(content []byte) int {
	n := 0
	for _, c := range []byte(",:-[{\n") {
		n += bytes.Count(content, []byte{c})
	}
	return n
}

var (
	v3LineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	v4ErrRe  = regexp.MustCompile(`^yaml: (?:(while [^:]*?) at (?:line (\d+)(?:, column (\d+))?|<unknown position>): )?(?:line (\d+)(?:, column (\d+))?: )?(.*)$`)
)

// syntaxDiagnostic positions a YAML syntax error. yaml.v3 reports only a
// line, and for parser errors that line is the 0-based line of the enclosing
// construct, so the bytes are parsed again with go.yaml.in/yaml/v4 (the
// parser compose-go itself uses), whose errors carry the problem's line and
// column as well as the construct being parsed.
func syntaxDiagnostic(file string, content []byte, err error) Diagnostic {
	d := Diagnostic{File: file, Line: 1, Col: 1, Message: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := v3LineRe.FindStringSubmatch(err.Error()); m != nil {
		d.Line, _ = strconv.Atoi(m[1])
		d.Message = m[2]
	}
	var n yamlv4.Node
	err4 := yamlv4.Unmarshal(content, &n)
	if err4 == nil {
		return d
	}
	m := v4ErrRe.FindStringSubmatch(err4.Error())
	if m == nil {
		return d
	}
	context, msg := m[1], m[6]
	// Marks of parser errors ("while parsing ...") are 0-based lines in
	// both libraries; scanner errors are 1-based.
	off := 0
	if strings.HasPrefix(context, "while parsing") {
		off = 1
	}
	num := func(s string, def int) int {
		if v, err := strconv.Atoi(s); err == nil {
			return v
		}
		return def
	}
	lines := bytes.Count(content, []byte("\n")) + 1
	if bytes.HasSuffix(content, []byte("\n")) {
		lines--
	}
	lines = max(lines, 1)
	d.Message = msg
	switch {
	case m[4] != "" && (num(m[4], 0)+off <= lines || m[2] == ""):
		d.Line, d.Col = num(m[4], 0)+off, num(m[5], 1)
		if context != "" && m[2] != "" {
			d.Message = fmt.Sprintf("%s (%s at line %d)", msg, context, num(m[2], 0)+off)
		}
	case m[2] != "":
		// The problem is past the end of the file (an unterminated quote
		// or bracket): where the construct started is more helpful.
		d.Line, d.Col = num(m[2], 0)+off, num(m[3], 1)
		d.Message = fmt.Sprintf("%s (%s)", msg, context)
	}
	d.Line = min(max(d.Line, 1), lines)
	return d
}

// resolve follows aliases so callers see the node an alias stands for.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isMergeKey tells a YAML merge key (<<) from an ordinary key.
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "!!merge" || k.Tag == "")
}

// lookup finds key in a mapping, looking through merge keys the way YAML
// decoding does, so positions exist for values that came from an anchor.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if kn := m.Content[i]; !isMergeKey(kn) && kn.Value == key {
			return kn, m.Content[i+1]
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !isMergeKey(m.Content[i]) {
			continue
		}
		src := resolve(m.Content[i+1])
		srcs := []*yaml.Node{src}
		if src != nil && src.Kind == yaml.SequenceNode {
			srcs = src.Content
		}
		for _, s := range srcs {
			if k, v := lookup(s, key); k != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

// location is where a field path ends up in a node tree: the deepest node
// that exists along it.
type location struct {
	Key   *yaml.Node // key of the last mapping entry reached, if any
	Value *yaml.Node // the node reached
	Path  string     // field path of Value, e.g. services.web.ports[0]
	Found int        // how many segments were matched
}

// locate walks segs (mapping keys or sequence indexes) from root as far as
// the tree allows.
func locate(root *yaml.Node, segs ...string) location {
	loc := location{Value: root}
	cur := root
	for _, seg := range segs {
		cur = resolve(cur)
		if cur == nil {
			break
		}
		switch cur.Kind {
		case yaml.MappingNode:
			k, v := lookup(cur, seg)
			if k == nil {
				return loc
			}
			loc.Key, loc.Value, loc.Path = k, v, joinPath(loc.Path, seg)
			cur = v
		case yaml.SequenceNode:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(cur.Content) {
				return loc
			}
			loc.Key, loc.Value, loc.Path = nil, cur.Content[i], indexPath(loc.Path, i)
			cur = cur.Content[i]
		default:
			return loc
		}
		loc.Found++
	}
	return loc
}

// keyNode is where to point for a problem with a field as a whole: its key
// when it has one, else its value.
func (l location) keyNode() *yaml.Node {
	if l.Key != nil {
		return l.Key
	}
	return l.Value
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// at builds a diagnostic positioned at n; a nil or position-less node falls
// back to the top of the file, since every diagnostic must have a place.
func at(file string, n *yaml.Node, path, msg string) Diagnostic {
	d := Diagnostic{File: file, Line: 1, Col: 1, Path: path, Message: msg}
	if n != nil && n.Line > 0 {
		d.Line, d.Col = n.Line, max(n.Column, 1)
	}
	return d
}

// duplicateKeys reports every key defined twice in the same mapping, which
// yaml.v3 accepts silently in a node tree but which is almost always a
// copy-paste mistake where one of the two values is silently lost.
func duplicateKeys(file string, n *yaml.Node, path string, seen map[*yaml.Node]bool) Diagnostics {
	if n == nil || seen[n] {
		return nil
	}
	seen[n] = true
	var ds Diagnostics
	switch n.Kind {
	case yaml.MappingNode:
		first := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if isMergeKey(k) {
				continue
			}
			p := joinPath(path, k.Value)
			if f, dup := first[k.Value]; dup {
				ds = append(ds, at(file, k, p, duplicateMsg(k.Value, f)))
			} else {
				first[k.Value] = k
			}
			ds = append(ds, duplicateKeys(file, v, p, seen)...)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			ds = append(ds, duplicateKeys(file, c, indexPath(path, i), seen)...)
		}
	}
	return ds
}

func duplicateMsg(key string, first *yaml.Node) string {
	return "duplicate key " + strconv.Quote(key) + " (first defined at line " + strconv.Itoa(first.Line) + ")"
}
