package spec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Bounds on what a file may make ladder do. YAML aliases let a few hundred
// bytes stand for billions of nodes ("billion laughs"): every walk that
// follows aliases (interpolation, the schema model, compose-go's own
// loader) would copy each of them. The bounds are checked on the parsed
// node tree, where aliases are still pointers, before anything expands
// them. They sit far above real stacks: the 1,000-service benchmark project
// is about 20,000 nodes and 200 KB.
const (
	// MaxFileSize is the largest compose.yaml or ladder.yaml read, in bytes.
	MaxFileSize = 2 << 20
	// MaxNodes is the most YAML nodes a file may stand for once every
	// alias is expanded.
	MaxNodes = 100_000
	// MaxDepth is the deepest nesting of mappings and lists a file may
	// have, aliases followed.
	MaxDepth = 64
)

// errTooLarge is what readBounded returns for a file over MaxFileSize.
var errTooLarge = errors.New("file too large")

// readBounded reads at most MaxFileSize bytes of path, so that a huge (or
// endless, like a FIFO) file cannot exhaust memory before any check runs.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, errTooLarge
	}
	return b, nil
}

// tooLargeMsg is the diagnostic for a file over MaxFileSize.
func tooLargeMsg(what string) string {
	return fmt.Sprintf("%s is larger than %d MiB: ladder refuses to read it", what, MaxFileSize>>20)
}

// sizer counts the nodes a tree stands for with aliases expanded. Each
// distinct node is measured once (an alias reuses its anchor's count), so
// the cost is linear in the parsed file, whatever the expansion.
type sizer struct {
	size  map[*yaml.Node]int
	depth map[*yaml.Node]int
	busy  map[*yaml.Node]bool
}

// measure returns how many nodes n expands to (capped just above MaxNodes)
// and how deep it nests (capped just above MaxDepth).
func (s *sizer) measure(n *yaml.Node) (int, int) {
	if n == nil {
		return 0, 0
	}
	if sz, ok := s.size[n]; ok {
		return sz, s.depth[n]
	}
	if s.busy[n] {
		// An alias inside its own anchor: yaml.v3 refuses these, but
		// never loop if one gets through.
		return MaxNodes + 1, MaxDepth + 1
	}
	s.busy[n] = true
	size, depth := 1, 0
	if n.Kind == yaml.AliasNode {
		size, depth = s.measure(n.Alias)
	} else {
		for _, c := range n.Content {
			cs, cd := s.measure(c)
			size = min(size+cs, MaxNodes+1)
			depth = max(depth, cd)
		}
		if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
			depth = min(depth+1, MaxDepth+1)
		}
	}
	delete(s.busy, n)
	s.size[n], s.depth[n] = size, depth
	return size, depth
}

// checkBudget refuses a tree that expands past MaxNodes or nests deeper
// than MaxDepth, pointing at the alias (or the field) where most of it
// comes from.
func checkBudget(file string, root *yaml.Node) Diagnostics {
	s := &sizer{size: map[*yaml.Node]int{}, depth: map[*yaml.Node]int{}, busy: map[*yaml.Node]bool{}}
	size, depth := s.measure(root)
	if size <= MaxNodes && depth <= MaxDepth {
		return nil
	}
	// Point at the line a person has to change: the first alias that alone
	// stands for more than the budget, or else down the branch that holds
	// most of the weight, stopping where no single branch holds half (a
	// long list) or, for nesting, at the field (three levels down) where
	// the deep value is written.
	if size > MaxNodes {
		if n, path := firstHugeAlias(s, root, ""); n != nil {
			return Diagnostics{at(file, n, path, fmt.Sprintf(
				"alias *%s expands to more than %s YAML nodes: ladder refuses files that stand for that many once aliases are expanded (nested aliases multiply)",
				n.Value, thousands(MaxNodes)))}
		}
	}
	weight := func(n *yaml.Node) int {
		if size > MaxNodes {
			return s.size[n]
		}
		return s.depth[n]
	}
	n, path := root, ""
	for level := 0; n.Kind != yaml.AliasNode && len(n.Content) > 0; level++ {
		best := 0
		for i, c := range n.Content {
			if weight(c) > weight(n.Content[best]) {
				best = i
			}
		}
		if n.Kind == yaml.MappingNode && best%2 == 0 {
			best++ // the value of the heaviest key
		}
		if size > MaxNodes && 2*weight(n.Content[best]) < weight(n) || size <= MaxNodes && level == 3 {
			break
		}
		switch n.Kind {
		case yaml.MappingNode:
			if k := n.Content[best-1]; !isMergeKey(k) {
				path = joinPath(path, k.Value)
			}
		case yaml.SequenceNode:
			path = indexPath(path, best)
		}
		n = n.Content[best]
	}
	var msg string
	switch {
	case depth > MaxDepth:
		msg = fmt.Sprintf("nested more than %d levels deep (aliases followed): ladder refuses files nested this deep", MaxDepth)
	case n.Kind == yaml.AliasNode:
		msg = fmt.Sprintf("alias *%s expands to %s YAML nodes: ladder refuses files that stand for more than %s once aliases are expanded (nested aliases multiply)",
			n.Value, thousands(s.size[n]), thousands(MaxNodes))
	default:
		msg = fmt.Sprintf("holds more than %s YAML nodes (aliases counted expanded): ladder refuses files this large", thousands(MaxNodes))
	}
	return Diagnostics{at(file, n, path, msg)}
}

// firstHugeAlias finds, in document order, the first alias that stands
// for more than MaxNodes nodes on its own, and its field path.
func firstHugeAlias(s *sizer, n *yaml.Node, path string) (*yaml.Node, string) {
	if n.Kind == yaml.AliasNode {
		if s.size[n] > MaxNodes {
			return n, path
		}
		return nil, ""
	}
	for i, c := range n.Content {
		p := path
		switch n.Kind {
		case yaml.MappingNode:
			if i%2 == 0 {
				continue // keys are scalars in compose and ladder files
			}
			if k := n.Content[i-1]; !isMergeKey(k) {
				p = joinPath(path, k.Value)
			}
		case yaml.SequenceNode:
			p = indexPath(path, i)
		}
		if s.size[c] > MaxNodes {
			if a, ap := firstHugeAlias(s, c, p); a != nil {
				return a, ap
			}
		}
	}
	return nil, ""
}

// thousands writes n with a comma every three digits: 200,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
