package spec

import (
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// source is a parsed file kept with a loaded project, so that checks made
// after loading (`ladder lint`) can point into it too.
type source struct {
	file string // as shown in diagnostics
	root *yaml.Node
}

// Pos is a place in a file the user wrote.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
	// Path is the field path, e.g. "environments.prod.values.tier".
	Path string `json:"path"`
}

// LadderPos returns where the field at segs (mapping keys; list indexes or
// list entries by value) is written in ladder.yaml: its key for a mapping
// entry, the entry itself in a list. When only part of the path is
// written, it is the deepest part that is; without a ladder file, the top
// of "ladder.yaml". Line and Col are always at least 1.
func (p *Project) LadderPos(segs ...string) Pos {
	return p.ladderSrc.pos("ladder.yaml", segs)
}

// StackPos is LadderPos for the stack file (compose.yaml).
func (p *Project) StackPos(segs ...string) Pos {
	def := "compose.yaml"
	if p.Stack == nil {
		return source{}.pos(def, segs)
	}
	if p.Stack.File != "" {
		def = filepath.Base(p.Stack.File)
	}
	return p.Stack.src.pos(def, segs)
}

func (s source) pos(defFile string, segs []string) Pos {
	file := s.file
	if file == "" {
		file = defFile
	}
	pos := Pos{File: file, Line: 1, Col: 1, Path: joinSegs(segs)}
	if s.root == nil {
		return pos
	}
	loc := locateEntry(s.root, segs)
	n := loc.keyNode()
	if n != nil && n.Line > 0 {
		pos.Line, pos.Col = n.Line, max(n.Column, 1)
	}
	pos.Path = loc.Path
	return pos
}

// locateEntry is locate, except that a segment that is not an index of a
// list picks the list entry that names it ("db" or "db:..." in depends_on
// or secrets lists, or an entry with that source or name).
func locateEntry(root *yaml.Node, segs []string) location {
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
			if err != nil {
				i = entryIndex(cur, seg)
			}
			if i < 0 || i >= len(cur.Content) {
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

func entryIndex(l *yaml.Node, name string) int {
	for i, e := range l.Content {
		e = resolve(e)
		switch e.Kind {
		case yaml.ScalarNode:
			if e.Value == name || strings.HasPrefix(e.Value, name+":") {
				return i
			}
		case yaml.MappingNode:
			for _, key := range []string{"source", "name"} {
				if _, v := lookup(e, key); v != nil && v.Value == name {
					return i
				}
			}
		}
	}
	return -1
}

func joinSegs(segs []string) string {
	path := ""
	for _, s := range segs {
		if _, err := strconv.Atoi(s); err == nil && path != "" {
			path = indexPath(path, mustAtoi(s))
			continue
		}
		path = joinPath(path, s)
	}
	return path
}

func mustAtoi(s string) int {
	i, _ := strconv.Atoi(s)
	return i
}
