package build

import (
	"reflect"
	"strings"
	"testing"
)

// A go build -x trace in the shape go1.2x prints it: a dependency
// compiled and cached, the main package compiled, the link with an
// environment assignment, and a compile error of another package.
const sampleTrace = `WORK=/tmp/go-build123
mkdir -p $WORK/b002/
cat >/tmp/go-build123/b002/importcfg << 'EOF' # internal
# import config
packagefile fmt=/cache/aa/fmt-d
EOF
cd /src/shop/internal/greet
/go/pkg/tool/linux_amd64/compile -o $WORK/b002/_pkg_.a -trimpath "$WORK/b002=>" -p example.com/shop/internal/greet -lang=go1.22 -complete -buildid a/a -c=2 -nolocalimports -importcfg $WORK/b002/importcfg -pack ./greet.go
go tool buildid -w $WORK/b002/_pkg_.a # internal
cp $WORK/b002/_pkg_.a /cache/bb/greet-d # internal
mkdir -p $WORK/b001/
cat >/tmp/go-build123/b001/importcfg << 'EOF' # internal
# import config
packagefile example.com/shop/internal/greet=$WORK/b002/_pkg_.a
EOF
cd /src/shop/services/my worker
/go/pkg/tool/linux_amd64/compile -o $WORK/b001/_pkg_.a -trimpath "/src/shop/services/my worker=>example.com/shop/services/worker;$WORK/b001=>" -p main -lang=go1.22 -complete -buildid b/b -goversion go1.26.8 -c=2 -nolocalimports -importcfg $WORK/b001/importcfg -pack ./main.go "./odd \"name\".go"
# example.com/shop/services/other
./other.go:3:2: undefined: x
cat >/tmp/go-build123/b001/importcfg.link << 'EOF' # internal
packagefile example.com/shop/services/worker=$WORK/b001/_pkg_.a
modinfo "0w\xaf\f\x92t\b\x02A\xe1\xc1\a\xe6\xd6\x18\xe6path\texample.com/shop\n"
EOF
mkdir -p $WORK/b001/exe/
cd .
GOROOT='' X="it's" /go/pkg/tool/linux_amd64/link -o $WORK/b001/exe/a.out -importcfg $WORK/b001/importcfg.link -buildmode=exe -s -w -buildid= -extld=gcc $WORK/b001/_pkg_.a
go tool buildid -w $WORK/b001/exe/a.out # internal
mv $WORK/b001/exe/a.out /out/app
`

func TestParseTrace(t *testing.T) {
	tr := parseTrace([]byte(sampleTrace), "/src/shop/services/my worker")
	if tr.work != "/tmp/go-build123" {
		t.Fatalf("work %q", tr.work)
	}
	want := &toolRun{
		Dir: "/src/shop/services/my worker",
		Argv: []string{"/go/pkg/tool/linux_amd64/compile", "-o", "/tmp/go-build123/b001/_pkg_.a",
			"-trimpath", "/src/shop/services/my worker=>example.com/shop/services/worker;/tmp/go-build123/b001=>",
			"-p", "main", "-lang=go1.22", "-complete", "-buildid", "b/b", "-goversion", "go1.26.8", "-c=2", "-nolocalimports",
			"-importcfg", "/tmp/go-build123/b001/importcfg", "-pack", "./main.go", `./odd "name".go`},
	}
	if !reflect.DeepEqual(tr.compile, want) {
		t.Fatalf("compile\n got %#v\nwant %#v", tr.compile, want)
	}
	wantLink := &toolRun{
		Dir: "/src/shop/services/my worker",
		Env: []string{"GOROOT=", "X=it's"},
		Argv: []string{"/go/pkg/tool/linux_amd64/link", "-o", "/tmp/go-build123/b001/exe/a.out",
			"-importcfg", "/tmp/go-build123/b001/importcfg.link", "-buildmode=exe", "-s", "-w", "-buildid=", "-extld=gcc",
			"/tmp/go-build123/b001/_pkg_.a"},
	}
	if !reflect.DeepEqual(tr.link, wantLink) {
		t.Fatalf("link\n got %#v\nwant %#v", tr.link, wantLink)
	}
	if got := tr.cached["/tmp/go-build123/b002/_pkg_.a"]; got != "/cache/bb/greet-d" {
		t.Fatalf("cached copy of the dependency: %q (%v)", got, tr.cached)
	}
	// What is left is what the build said to its user.
	if got := string(tr.output); got != "# example.com/shop/services/other\n./other.go:3:2: undefined: x\n" {
		t.Fatalf("output %q", got)
	}
}

func TestSplitTraceWords(t *testing.T) {
	for _, c := range []struct {
		line string
		want []string
		ok   bool
	}{
		{`a b  c`, []string{"a", "b", "c"}, true},
		{`"a b" c`, []string{"a b", "c"}, true},
		{`K='v w' /x`, []string{"K=v w", "/x"}, true},
		{`K="v\"w" /x`, []string{`K=v"w`, "/x"}, true},
		{`-X=a='b' c`, []string{"-X=a='b'", "c"}, true},
		{`"unterminated`, nil, false},
		{`"a"b`, nil, false},
		{`K='unterminated`, nil, false},
	} {
		got, ok := splitTraceWords(c.line)
		if ok != c.ok || (ok && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("splitTraceWords(%q) = %q, %v; want %q, %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

// A trace whose commands the parser does not know makes no recipe, and
// keeps every line it does not recognise as output.
func TestParseTraceWithoutCommands(t *testing.T) {
	out := "go: downloading example.com/x v1.0.0\n# example.com/shop\n./main.go:1:1: expected 'package'\n"
	tr := parseTrace([]byte(out), "/src")
	if tr.compile != nil || tr.link != nil || tr.work != "" {
		t.Fatalf("parsed %+v", tr)
	}
	if string(tr.output) != out || !strings.Contains(string(tr.output), "expected 'package'") {
		t.Fatalf("output %q", tr.output)
	}
}

// The trace is read as the go command writes it, in pieces of any size:
// the result is the same as from the whole.
func TestTraceWriterTakesAnyPieces(t *testing.T) {
	want := parseTrace([]byte(sampleTrace), "/src/shop/services/my worker")
	for size := 1; size <= 64; size++ {
		w := newTraceWriter("/src/shop/services/my worker")
		for rest := []byte(sampleTrace); len(rest) > 0; {
			n := min(size, len(rest))
			w.Write(rest[:n])
			rest = rest[n:]
		}
		if got := w.finish(); !reflect.DeepEqual(got, want) {
			t.Fatalf("in pieces of %d bytes: %+v, want %+v", size, got, want)
		}
	}
}

// What a traced build leaves in memory is bounded: a line past
// maxTraceLine is dropped (and the trace then makes no recipe), and only
// the last maxBuildOutput bytes of the build's own output are kept, from
// the start of a line.
func TestTraceWriterIsBounded(t *testing.T) {
	w := newTraceWriter("/src")
	w.Write([]byte(sampleTrace))
	long := "/usr/local/go/pkg/tool/linux_amd64/compile -p main " + strings.Repeat("x.go ", maxTraceLine/5+1) + "\n"
	w.Write([]byte(long))
	if tr := w.finish(); tr.compile != nil || tr.link != nil {
		t.Fatalf("a trace that lost a line kept its commands: %+v %+v", tr.compile, tr.link)
	}
	if len(w.line) != 0 {
		t.Fatalf("the dropped line is still held (%d bytes)", len(w.line))
	}

	w = newTraceWriter("/src")
	var last string
	for i := 0; i < 3*maxBuildOutput/40; i++ {
		last = strings.Repeat("e", 30) + " line " + strings.Repeat("0", 3)
		w.Write([]byte(last + "\n"))
	}
	w.Write([]byte("./main.go:3:1: the last error\n"))
	out := w.finish().output
	if len(out) > maxBuildOutput || !strings.HasSuffix(string(out), "./main.go:3:1: the last error\n") || !strings.HasPrefix(string(out), last) {
		t.Fatalf("kept %d bytes (at most %d), starting %q, ending %q", len(out), maxBuildOutput, out[:min(len(out), 40)], out[max(0, len(out)-40):])
	}
}
