package build

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// dockerSpec is the Dockerfile part of a job.
type dockerSpec struct {
	// dockerfile is the Dockerfile's path, absolute; empty for inline.
	dockerfile string
	inline     string
	args       types.MappingWithEquals
	target     string
}

func planDockerfile(bc *types.BuildConfig, ctxDir string) *dockerSpec {
	d := &dockerSpec{inline: bc.DockerfileInline, args: bc.Args, target: bc.Target}
	if d.inline == "" {
		name := bc.Dockerfile
		if name == "" {
			name = "Dockerfile"
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(ctxDir, name)
		}
		d.dockerfile = filepath.Clean(name)
	}
	return d
}

// dockerfile is a Dockerfile read for one build: its content and the name
// the engine finds it under in the context tar.
type dockerfile struct {
	content []byte
	// name is the slash path inside the context. A Dockerfile from outside
	// the context (or inline) is added to the tar as extra (the docker CLI
	// does the same) and listed in the .dockerignore sent along, so that
	// `COPY . .` does not pick it up.
	name  string
	extra bool
}

func (d *dockerSpec) read(ctxDir string) (*dockerfile, error) {
	if d.dockerfile == "" {
		return extraDockerfile([]byte(d.inline)), nil
	}
	content, err := os.ReadFile(d.dockerfile)
	if err != nil {
		return nil, fmt.Errorf("reading the Dockerfile: %w", err)
	}
	rel, err := filepath.Rel(ctxDir, d.dockerfile)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return extraDockerfile(content), nil
	}
	return &dockerfile{content: content, name: filepath.ToSlash(rel)}, nil
}

func extraDockerfile(content []byte) *dockerfile {
	sum := sha256.Sum256(content)
	return &dockerfile{content: content, name: ".dockerfile.ladder-" + hex.EncodeToString(sum[:6]), extra: true}
}

// engineImages returns the images a Dockerfile takes from the engine: the
// FROM images that are neither scratch nor an earlier stage, and the
// COPY --from= images. The classic builder pulls any of them it lacks,
// whatever PullParent says, so ladder checks them first to fail without
// touching the network. This is not a Dockerfile parser: it reads
// instructions (with line continuations, comments and the escape
// directive) and substitutes the ARGs declared before the first FROM; a
// reference that still holds a variable is left to the engine.
func engineImages(dockerfile []byte, buildArgs types.MappingWithEquals) []string {
	var images []string
	seen := map[string]bool{}
	add := func(ref string) {
		if ref != "" && !strings.Contains(ref, "$") && !seen[ref] {
			seen[ref] = true
			images = append(images, ref)
		}
	}
	globals := map[string]string{}
	stages := map[string]bool{}
	sawFrom := false
	for _, line := range instructions(dockerfile) {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "ARG":
			if sawFrom {
				continue
			}
			for _, decl := range fields[1:] {
				name, def, _ := strings.Cut(decl, "=")
				globals[name] = strings.Trim(def, `"'`)
				if v, ok := buildArgs[name]; ok && v != nil {
					globals[name] = *v
				}
			}
		case "FROM":
			sawFrom = true
			args := withoutFlags(fields[1:])
			if len(args) == 0 {
				continue
			}
			ref := os.Expand(args[0], func(name string) string {
				name, def, hasDef := strings.Cut(name, ":-")
				if v, ok := globals[name]; ok && (v != "" || !hasDef) {
					return v
				} else if hasDef {
					return def
				}
				return "${" + name + "}"
			})
			if !strings.EqualFold(ref, "scratch") && !stages[strings.ToLower(ref)] {
				add(ref)
			}
			// The stage's name is usable from the next FROM on.
			if len(args) >= 3 && strings.EqualFold(args[1], "AS") {
				stages[strings.ToLower(args[2])] = true
			}
		case "COPY":
			for _, f := range fields[1:] {
				from, ok := strings.CutPrefix(f, "--from=")
				if !ok {
					continue
				}
				if !stages[strings.ToLower(from)] && strings.Trim(from, "0123456789") != "" {
					add(from)
				}
			}
		}
	}
	return images
}

func withoutFlags(fields []string) []string {
	for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
		fields = fields[1:]
	}
	return fields
}

// instructions splits a Dockerfile into logical lines: comments dropped,
// continuations (the escape character at the end of a line) joined.
func instructions(dockerfile []byte) []string {
	escape := `\`
	var out []string
	var cur strings.Builder
	directives := true
	sc := bufio.NewScanner(bytes.NewReader(dockerfile))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if directives {
			if d, ok := strings.CutPrefix(line, "#"); ok {
				if k, v, ok := strings.Cut(d, "="); ok && strings.EqualFold(strings.TrimSpace(k), "escape") {
					if v = strings.TrimSpace(v); v == "`" || v == `\` {
						escape = v
					}
				}
				continue
			}
			directives = false
		}
		if strings.HasPrefix(line, "#") || line == "" && cur.Len() > 0 {
			continue
		}
		if rest, ok := strings.CutSuffix(line, escape); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(line)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
