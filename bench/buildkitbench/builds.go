package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ladderhq/ladder/bench/internal/harness"
	"github.com/ladderhq/ladder/internal/build"
	"github.com/ladderhq/ladder/internal/buildkit"
	"github.com/ladderhq/ladder/internal/spec"
	"github.com/ladderhq/ladder/internal/store/sqlite"
)

// build runs ladder's Build of the one service in k's sources, in a fresh
// Builder on k's state directory (as each `ladder up` makes one), and
// checks that it did build.
func (b *bench) build(ctx context.Context, e *engine, k *kind, i int) (time.Duration, error) {
	st, err := sqlite.Open(filepath.Join(k.dir, "ladder.db"))
	if err != nil {
		return 0, err
	}
	defer st.Close()
	bl := build.New(build.Options{Store: st, Dir: filepath.Join(k.dir, "artifacts"), StateDir: k.dir, Docker: e.cli, BuildKitHost: k.host})
	defer bl.Close()
	proj := &types.Project{Name: "bench", WorkingDir: k.src, Services: types.Services{
		"app": {Name: "app", WorkloadSpec: types.WorkloadSpec{Build: &types.BuildConfig{Context: ".", Dockerfile: "Dockerfile"}}},
	}}
	stack := &spec.Stack{Name: "bench", File: filepath.Join(k.src, "compose.yaml"), Compose: proj}
	start := time.Now()
	arts, rep, err := bl.Build(ctx, stack)
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s build %d: %w", k.key, i, err)
	}
	if !harness.SameSet(rep.Built, "app") {
		return 0, fmt.Errorf("%s build %d built %v, want app", k.key, i, rep.Built)
	}
	if dg := arts["app"].Digest; k.digests[dg] {
		return 0, fmt.Errorf("%s build %d: digest %s seen before: the change was not built", k.key, i, dg)
	} else {
		k.digests[dg] = true
	}
	return d, nil
}

// writeSources writes the service: a small program and a multi-stage
// Dockerfile whose build stage compiles it on the Go image base, with a
// cache mount for Go's build cache when mount is set.
func writeSources(dir, base string, mount bool) error {
	run := "RUN "
	if mount {
		run += "--mount=type=cache,target=/root/.cache/go-build "
	}
	files := map[string]string{
		"go.mod": "module example.com/app\n\ngo 1.22\n",
		"main.go": `package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	fmt.Println(strings.ToUpper("hello"), len(os.Args))
}
`,
		"Dockerfile": "FROM " + base + " AS build\nWORKDIR /src\nCOPY go.mod ./\nCOPY *.go ./\n" +
			run + "go build -trimpath -o /out/app .\n" +
			"FROM scratch\nCOPY --from=build /out/app /app\nENTRYPOINT [\"/app\"]\n",
	}
	return harness.WriteTree(dir, files)
}

// changeLine changes one line of main.go: what it prints.
func changeLine(dir string, i int) error {
	p := filepath.Join(dir, "main.go")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	for j, l := range lines {
		if strings.Contains(l, `strings.ToUpper(`) {
			lines[j] = fmt.Sprintf(`	fmt.Println(strings.ToUpper("hello %d"), len(os.Args))`, i)
		}
	}
	return os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644)
}

// findBuildkitd is the flag's binary, the one scripts/test.sh builds, or
// one on PATH; "" when none.
func findBuildkitd(flag string) string {
	if flag != "" {
		return flag
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	matches, _ := filepath.Glob(filepath.Join(cache, "ladder-ci", "bin", "buildkit-*", "buildkitd"))
	if len(matches) > 0 {
		return matches[len(matches)-1]
	}
	p, _ := exec.LookPath("buildkitd")
	return p
}

// buildkitdVersion is what bin says, or (go install does not stamp the
// version) the version in the cache directory's name.
func buildkitdVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if f := strings.Fields(string(out)); err == nil && len(f) >= 3 && !strings.HasPrefix(f[2], "v0.0.0") {
		return f[2]
	}
	if v, ok := strings.CutPrefix(filepath.Base(filepath.Dir(bin)), "buildkit-"); ok {
		return v
	}
	return "?"
}

// startBuildkitd starts buildkitd with its state in dir and returns its
// address and how to stop it.
func startBuildkitd(ctx context.Context, bin, dir string) (string, func() error, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	addr := "unix://" + filepath.Join(dir, "buildkitd.sock")
	logf, err := os.Create(filepath.Join(dir, "buildkitd.log"))
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--root", filepath.Join(dir, "root"), "--addr", addr,
		"--oci-worker-snapshotter", "native", "--oci-worker-binary", "runc", "--containerd-worker=false")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
		return nil
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := buildkit.Connect(ctx, addr)
		if err == nil {
			c.Close()
			return addr, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("buildkitd did not answer: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runGo runs the go command and returns its output ("" on failure).
func runGo(args ...string) string {
	out, _ := exec.Command("go", args...).Output()
	return string(out)
}
