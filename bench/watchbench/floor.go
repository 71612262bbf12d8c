package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// floor is the compiler and the linker alone, run on notifications as a
// go build -x showed them: what any loop that builds this binary from
// source spends on a save at the least, the go command's own work left
// out. It is measured beside the two loops so that their figures can be
// read against it.
type floor struct {
	dir           string // the package's directory
	work          string // the traced build's work directory, kept
	compile, link []string
	linkEnv       []string
}

// startFloor traces one go build of a copy of notifications and keeps the
// commands it ran.
func (b *bench) startFloor(ctx context.Context) (*floor, error) {
	d, _, err := b.prepare("floor")
	if err != nil {
		return nil, err
	}
	f := &floor{dir: filepath.Join(d.Dir, "services", "notifications")}
	cmd := exec.CommandContext(ctx, "go", "build", "-x", "-work", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=",
		"-o", filepath.Join(b.r.Tmp, "floor-bin"), ".")
	cmd.Dir = f.dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("floor: go build -x: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if w, ok := strings.CutPrefix(line, "WORK="); ok {
			f.work = w
			continue
		}
		words := traceWords(line)
		var env []string
		for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "/") {
			env, words = append(env, words[0]), words[1:]
		}
		if len(words) == 0 || !strings.Contains(words[0], "/pkg/tool/") {
			continue
		}
		switch filepath.Base(words[0]) {
		case "compile":
			if strings.Contains(line, " -p main ") {
				f.compile = words
			}
		case "link":
			f.link, f.linkEnv = words, env
		}
	}
	if f.work == "" || f.compile == nil || f.link == nil {
		return nil, fmt.Errorf("floor: the trace has no compile of main and link:\n%s", out)
	}
	for _, argv := range [][]string{f.compile, f.link} {
		for i, a := range argv {
			argv[i] = strings.ReplaceAll(a, "$WORK", f.work)
		}
	}
	return f, nil
}

// traceWords splits a trace line: plain words, Go-quoted words, and
// KEY='value' assignments.
func traceWords(line string) []string {
	var words []string
	for _, w := range strings.Fields(line) {
		switch {
		case strings.HasPrefix(w, `"`):
			if u, err := strconv.Unquote(w); err == nil {
				w = u
			}
		case strings.Contains(w, "='") && strings.HasSuffix(w, "'"):
			k, v, _ := strings.Cut(w, "=")
			w = k + "=" + strings.Trim(v, "'")
		}
		words = append(words, w)
	}
	return words
}

// round writes the round's file and runs the compile and the link.
func (f *floor) round(ctx context.Context, round int) (time.Duration, error) {
	if err := os.WriteFile(filepath.Join(f.dir, "bench_hook.go"), []byte(hook("floor", round)), 0o644); err != nil {
		return 0, err
	}
	t0 := time.Now()
	for _, run := range []struct {
		argv, env []string
	}{{f.compile, nil}, {f.link, f.linkEnv}} {
		cmd := exec.CommandContext(ctx, run.argv[0], run.argv[1:]...)
		cmd.Dir = f.dir
		cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), run.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("floor: %s: %v\n%s", filepath.Base(run.argv[0]), err, out)
		}
	}
	return time.Since(t0), nil
}

func (f *floor) close() {
	if f != nil && f.work != "" {
		os.RemoveAll(f.work)
	}
}
