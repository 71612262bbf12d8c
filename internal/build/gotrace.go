package build

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// traceFlags make a go build print every command it runs (-x) and keep its
// work directory (-work), so that a build that compiled the main package
// leaves what a recipe is made of: the compiler's and linker's command
// lines and their import configurations (see goRecipe).
var traceFlags = []string{"-x", "-work"}

// toolRun is one command of a go build -x trace.
type toolRun struct {
	// Dir is where it ran; Env are the assignments the trace shows before
	// it (GOROOT=” for the linker); Argv[0] is the tool's absolute path.
	Dir  string
	Env  []string
	Argv []string
}

// goTrace is what a go build -x -work printed, taken apart.
type goTrace struct {
	// work is the build's work directory ($WORK), kept by -work: the
	// caller removes it.
	work string
	// compile is the compiler run of package main, nil when the package
	// came from the build cache; link is the linker run.
	compile, link *toolRun
	// output is everything else the build printed: what a failed build
	// shows its user.
	output []byte
	// importcfg and linkcfg are the compile's and the link's import
	// configurations, read from the work directory (keepConfigs).
	importcfg, linkcfg []byte
	// cached maps a package compiled in the work directory to its copy
	// in the build cache (the trace's "cp $WORK/... CACHE # internal").
	cached map[string]string
}

// parseTrace takes a go build -x trace apart. dir is the directory the go
// command ran in ("cd ." in the trace). Commands it cannot read are left
// out of the result, never guessed at: a trace without a compile or a link
// makes no recipe.
func parseTrace(out []byte, dir string) *goTrace {
	t := &goTrace{}
	var rest bytes.Buffer
	cwd := dir
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	inHeredoc := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case inHeredoc:
			inHeredoc = line != "EOF"
			continue
		case strings.HasPrefix(line, "WORK="):
			if t.work == "" {
				t.work = strings.TrimPrefix(line, "WORK=")
			}
			continue
		case strings.HasPrefix(line, "cat >") && strings.Contains(line, " << 'EOF'"):
			inHeredoc = true
			continue
		case strings.HasSuffix(line, " # internal"):
			if rest, ok := strings.CutPrefix(strings.TrimSuffix(line, " # internal"), "cp $WORK/"); ok {
				if from, to, ok := strings.Cut(rest, " "); ok && filepath.IsAbs(to) {
					if t.cached == nil {
						t.cached = map[string]string{}
					}
					t.cached["$WORK/"+from] = to
				}
			}
			continue
		case strings.HasPrefix(line, "cd "):
			cwd = strings.TrimPrefix(line, "cd ")
			if cwd == "." {
				cwd = dir
			}
			continue
		case traceShellLine(line):
			continue
		}
		if run, ok := parseToolLine(line); ok {
			run.Dir = cwd
			switch toolName(run.Argv[0]) {
			case "compile":
				if argValue(run.Argv, "-p") == "main" {
					t.compile = run
				}
			case "link":
				t.link = run
			}
			continue
		}
		rest.WriteString(line)
		rest.WriteByte('\n')
	}
	t.output = rest.Bytes()
	if t.work != "" {
		t.expandWork()
	}
	return t
}

// traceShellLine reports whether line is one of the shell steps a go build
// -x prints around its tools.
func traceShellLine(line string) bool {
	for _, p := range []string{"mkdir -p ", "mv ", "cp ", "rm -r", "rm -f ", "echo ", "touch ", "ln -s"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// toolName is a go tool's name from its path: "compile", "link", ...
func toolName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".exe")
}

// parseToolLine reads a command line of the trace that runs a tool of the
// toolchain (GOROOT/pkg/tool/...): environment assignments, then words,
// each plain or Go-quoted, as the go command prints them.
func parseToolLine(line string) (*toolRun, bool) {
	words, ok := splitTraceWords(line)
	if !ok || len(words) == 0 {
		return nil, false
	}
	run := &toolRun{}
	for len(words) > 0 && isAssignment(words[0]) {
		run.Env = append(run.Env, words[0])
		words = words[1:]
	}
	if len(words) == 0 || !filepath.IsAbs(words[0]) || !strings.Contains(filepath.ToSlash(words[0]), "/pkg/tool/") {
		return nil, false
	}
	run.Argv = words
	return run, true
}

func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// splitTraceWords splits a trace line into words: plain words end at a
// space; a word starting with a double quote is a Go string literal; an
// assignment's value may be single-quoted (KEY='value') or a Go string
// literal (KEY="value").
func splitTraceWords(line string) ([]string, bool) {
	var words []string
	for line = strings.TrimLeft(line, " "); line != ""; line = strings.TrimLeft(line, " ") {
		var word string
		switch {
		case line[0] == '"':
			q, err := strconv.QuotedPrefix(line)
			if err != nil {
				return nil, false
			}
			word, _ = strconv.Unquote(q)
			line = line[len(q):]
		default:
			name, val, ok := strings.Cut(line, "=")
			if ok && isAssignment(name+"=") && !strings.Contains(name, " ") && val != "" && (val[0] == '\'' || val[0] == '"') {
				if val[0] == '\'' {
					end := strings.IndexByte(val[1:], '\'')
					if end < 0 {
						return nil, false
					}
					word = name + "=" + val[1:1+end]
					line = val[2+end:]
				} else {
					q, err := strconv.QuotedPrefix(val)
					if err != nil {
						return nil, false
					}
					v, _ := strconv.Unquote(q)
					word = name + "=" + v
					line = val[len(q):]
				}
				break
			}
			end := strings.IndexByte(line, ' ')
			if end < 0 {
				end = len(line)
			}
			word, line = line[:end], line[end:]
		}
		if line != "" && line[0] != ' ' {
			return nil, false // a quoted word runs into the next one
		}
		words = append(words, word)
	}
	return words, true
}

// argValue returns the value of flag in argv ("-p main" or "-p=main").
func argValue(argv []string, flag string) string {
	for i, a := range argv {
		if a == flag && i+1 < len(argv) {
			return argv[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// keepConfigs reads the import configurations of the compile and the
// link from the work directory, before it is removed. A configuration
// that cannot be read is left nil (and no recipe is made).
func (t *goTrace) keepConfigs() {
	read := func(run *toolRun) []byte {
		if run == nil {
			return nil
		}
		path := argValue(run.Argv, "-importcfg")
		if path == "" || !strings.HasPrefix(path, t.work+string(filepath.Separator)) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil || len(b) > maxImportcfg {
			return nil
		}
		return b
	}
	t.importcfg, t.linkcfg = read(t.compile), read(t.link)
}

// maxImportcfg bounds an import configuration kept in memory.
const maxImportcfg = 8 << 20

// expandWork replaces the $WORK the trace prints with the directory.
func (t *goTrace) expandWork() {
	for from, to := range t.cached {
		delete(t.cached, from)
		t.cached[strings.Replace(from, "$WORK", t.work, 1)] = to
	}
	for _, run := range []*toolRun{t.compile, t.link} {
		if run == nil {
			continue
		}
		for i, a := range run.Argv {
			run.Argv[i] = strings.ReplaceAll(a, "$WORK", t.work)
		}
	}
}
