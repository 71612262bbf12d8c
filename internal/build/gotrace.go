package build

import (
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

// parseTrace takes a whole go build -x trace apart (see traceWriter).
func parseTrace(out []byte, dir string) *goTrace {
	w := newTraceWriter(dir)
	w.Write(out)
	return w.finish()
}

// Bounds on what a traced go build leaves in memory.
const (
	// maxTraceLine bounds one line of the trace: a compile of a package
	// of very many files is one long line. A longer line is dropped, and
	// a trace that lost one makes no recipe.
	maxTraceLine = 16 << 20
	// maxBuildOutput bounds what is kept of a build's own output (the
	// compiler's errors): its last bytes, where the errors end.
	maxBuildOutput = 1 << 20
)

// traceWriter takes a go build -x trace apart as the go command prints it,
// line by line, keeping only the commands a recipe is made of and the
// last maxBuildOutput bytes of everything else, so that the trace of a
// large build is never held whole. dir is the directory the go command
// ran in ("cd ." in the trace). Commands it cannot read are left out of
// the result, never guessed at: a trace without a compile or a link makes
// no recipe.
type traceWriter struct {
	t         *goTrace
	dir, cwd  string
	inHeredoc bool
	line      []byte // the line being written
	dropping  bool   // the line being written is past maxTraceLine
	lost      bool   // a line was dropped
	rest      tailBuffer
}

func newTraceWriter(dir string) *traceWriter {
	return &traceWriter{t: &goTrace{}, dir: dir, cwd: dir, rest: tailBuffer{max: maxBuildOutput}}
}

func (w *traceWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if !w.dropping {
			if len(w.line)+len(chunk) > maxTraceLine {
				w.dropping, w.lost, w.line = true, true, w.line[:0]
			} else {
				w.line = append(w.line, chunk...)
			}
		}
		if i < 0 {
			break
		}
		if !w.dropping {
			w.take(string(w.line))
		}
		w.line, w.dropping = w.line[:0], false
		p = p[i+1:]
	}
	return n, nil
}

// finish takes the last line, if unterminated, and returns the trace.
func (w *traceWriter) finish() *goTrace {
	if len(w.line) > 0 && !w.dropping {
		w.take(string(w.line))
	}
	w.line = nil
	t := w.t
	t.output = w.rest.bytes()
	if w.lost {
		// A command may be missing: nothing to learn from it.
		t.compile, t.link = nil, nil
	}
	if t.work != "" {
		t.expandWork()
	}
	return t
}

// take reads one line of the trace.
func (w *traceWriter) take(line string) {
	t := w.t
	switch {
	case w.inHeredoc:
		w.inHeredoc = line != "EOF"
		return
	case strings.HasPrefix(line, "WORK="):
		if t.work == "" {
			t.work = strings.TrimPrefix(line, "WORK=")
		}
		return
	case strings.HasPrefix(line, "cat >") && strings.Contains(line, " << 'EOF'"):
		w.inHeredoc = true
		return
	case strings.HasSuffix(line, " # internal"):
		if rest, ok := strings.CutPrefix(strings.TrimSuffix(line, " # internal"), "cp $WORK/"); ok {
			if from, to, ok := strings.Cut(rest, " "); ok && filepath.IsAbs(to) {
				if t.cached == nil {
					t.cached = map[string]string{}
				}
				t.cached["$WORK/"+from] = to
			}
		}
		return
	case strings.HasPrefix(line, "cd "):
		w.cwd = strings.TrimPrefix(line, "cd ")
		if w.cwd == "." {
			w.cwd = w.dir
		}
		return
	case traceShellLine(line):
		return
	}
	if run, ok := parseToolLine(line); ok {
		run.Dir = w.cwd
		switch toolName(run.Argv[0]) {
		case "compile":
			if argValue(run.Argv, "-p") == "main" {
				t.compile = run
			}
		case "link":
			t.link = run
		}
		return
	}
	w.rest.Write([]byte(line))
	w.rest.Write([]byte{'\n'})
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
	cut bool // bytes were dropped from the front
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
		b.cut = true
	}
	return len(p), nil
}

// bytes returns what is kept, starting at a line when the front was cut.
func (b *tailBuffer) bytes() []byte {
	out := b.buf
	if len(out) > b.max {
		out, b.cut = out[len(out)-b.max:], true
	}
	if b.cut {
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			out = out[i+1:]
		}
	}
	return out
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
