package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// The corpus: stacks in e2e/testdata/stacks in the shapes public Compose
// samples have (web + database + cache, a proxy in front, multi-stage
// Dockerfiles with heredocs and cache mounts, secrets, profiles, two
// networks, migrations run to completion first, images only...), made
// only of images built on this machine. A stack that builds ./svc gets
// the corpus's Go service (testdata/corpus-svc) copied there.

// corpusParallel is how many stacks run at once: enough to keep the
// corpus within a few minutes, few enough for a shared 2-core machine.
const corpusParallel = 4

// corpusCommandTimeout bounds each ladder command of a stack: an image
// service's first up copies its image into ladder's artifact store and
// back into the engine (PostgreSQL's is 475 MB), slow on a loaded machine.
const corpusCommandTimeout = 5 * time.Minute

func corpusStacks(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot(), "e2e", "testdata", "stacks"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) < 15 {
		t.Fatalf("the corpus has %d stacks, want at least 15", len(names))
	}
	return names
}

// TestCorpusCompose runs every stack of the corpus on the compose target:
// validate, up to healthy, no drift, what runs is what Compose would
// apply (field by field, from docker inspect), and down leaves nothing.
func TestCorpusCompose(t *testing.T) {
	requireDocker(t)
	runCorpus(t, "compose", nil)
}

// TestCorpusProcess runs the corpus on the process target, which runs
// what ladder builds as a static binary as a local process and every other
// service in the engine beside it: the same validate, up, drift and down,
// and the field check for the services that run as containers (a process
// has no docker inspect; its health is checked through status).
func TestCorpusProcess(t *testing.T) {
	requireDocker(t)
	runCorpus(t, "process", func(name string) string {
		return processKnownFailures[name]
	})
}

// processKnownFailures are the stacks the process target does not run yet,
// and why: each is a defect of the process target to fix, not a choice.
var processKnownFailures = map[string]string{}

func runCorpus(t *testing.T, kind string, skip func(name string) string) {
	sem := make(chan struct{}, corpusParallel)
	for _, name := range corpusStacks(t) {
		t.Run(name, func(t *testing.T) {
			if reason := ""; skip != nil {
				if reason = skip(name); reason != "" {
					t.Skip(reason)
				}
			}
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			c := newCorpusProject(t, name, kind)
			c.run(t)
			t.Logf("%s on the %s target: %s", name, kind, time.Since(start).Round(100*time.Millisecond))
		})
	}
}

type corpusProject struct {
	*project
	name  string // the stack's directory in the corpus
	stack string // its Compose name in this run
}

var composeName = regexp.MustCompile(`(?m)^name: *(\S+)$`)

// newCorpusProject copies stack name into a temp dir under a name of its
// own, with what it needs around it (the Go service, a go.mod, a
// ladder.yaml unless it has one) and its base images in the engine.
func newCorpusProject(t *testing.T, name, kind string) *corpusProject {
	t.Helper()
	src := filepath.Join(repoRoot(), "e2e", "testdata", "stacks", name)
	dir := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		copyFile(t, path, filepath.Join(dir, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &project{t: t, root: dir, dir: dir, kind: kind, timeout: corpusCommandTimeout}
	compose, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := composeName.FindSubmatch(compose)
	if m == nil {
		t.Fatalf("%s/compose.yaml has no name:", name)
	}
	stack := fmt.Sprintf("%s%d", strings.ReplaceAll(string(m[1]), "-", ""), time.Now().UnixNano()%1_000_000)
	p.write("compose.yaml", composeName.ReplaceAllString(string(compose), "name: "+stack))
	if strings.Contains(string(compose), "./svc") {
		copyFile(t, filepath.Join(repoRoot(), "e2e", "testdata", "corpus-svc", "main.go"), filepath.Join(dir, "svc", "main.go"))
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		p.write("go.mod", "module corpus.example/"+name+"\n\ngo 1.26\n")
	}
	if _, err := os.Stat(filepath.Join(dir, "ladder.yaml")); err != nil {
		p.write("ladder.yaml", "stack: compose.yaml\nenvironments:\n  local:\n    target: auto\n    health: {timeout: 150s}\n")
	}
	var all strings.Builder
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			all.Write(b)
		}
		return nil
	})
	for _, ref := range []string{busyboxRef, debianRef, postgresRef} {
		if strings.Contains(all.String(), ref) {
			corpusImage(t, ref)
		}
	}
	p.env = []string{"LADDER_TARGET=" + kind}
	if strings.Contains(all.String(), "FROM ") {
		// Heredocs, COPY --link and cache mounts need a current BuildKit.
		p.env = append(p.env, "LADDER_BUILDKIT_HOST="+buildkitdAddr(t))
	}
	c := &corpusProject{project: p, name: name, stack: stack}
	t.Cleanup(func() {
		// Whatever happened, leave nothing of the run on the engine.
		if res := p.run("down", "--volumes"); res.code != 0 {
			t.Logf("cleanup: ladder down: %s", res)
		}
		c.removeLeftovers()
		removeImages(t, stack+"-")
	})
	return c
}

// run takes the stack through validate, up, drift, the field check and
// down.
func (c *corpusProject) run(t *testing.T) {
	if res := c.project.run("validate", "--target", c.kind); res.code != 0 {
		t.Fatalf("validate: %s", res)
	}
	up := c.project.run("up", "-d", "--dashboard", "127.0.0.1:0")
	if up.code != 0 {
		t.Fatalf("up: %s", up)
	}
	st, res := c.status()
	if res.code != 0 || len(st.Sites) != 1 {
		t.Fatalf("status: %s", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	proj, err := loadCompose(ctx, c.dir, nil, nil)
	if err != nil {
		t.Fatalf("compose-go: %v", err)
	}
	check := &fieldCheck{proj: proj}
	native := map[string]bool{}
	for _, s := range st.Sites[0].Services {
		if s.Runs == "native" {
			native[s.Name] = true
		}
		cs, ok := proj.Services[s.Name]
		switch {
		case !ok:
			t.Errorf("%s runs, but compose runs no such service", s.Name)
		case check.oneShot(s.Name):
			// A job: the field check wants it exited 0.
		case hasHealth(cs) && s.Health != "healthy":
			t.Errorf("%s is %s after up, want healthy", s.Name, s.Health)
		case !hasHealth(cs) && s.Health != "running" && s.Health != "healthy":
			t.Errorf("%s is %s after up, want running", s.Name, s.Health)
		}
	}
	if res := c.project.run("drift"); res.code != 0 {
		t.Errorf("drift right after up: %s", res)
	}
	if project := st.Sites[0].Runtime["project"]; project != "" {
		diffs, err := checkFields(ctx, proj, project, native, c.kind == "process")
		if err != nil {
			t.Fatalf("field check: %v", err)
		}
		for _, d := range diffs {
			t.Errorf("%s", d)
		}
	} else if c.kind == "compose" || len(native) < len(st.Sites[0].Services) {
		t.Fatalf("status names no compose project: %+v", st.Sites[0].Runtime)
	}
	if res := c.project.run("down", "--volumes"); res.code != 0 {
		t.Fatalf("down: %s", res)
	}
	if left := c.leftovers(); len(left) > 0 {
		t.Errorf("left after down: %v", left)
	}
}

// leftovers lists the containers, networks and volumes of the stack's
// Compose projects still in the engine, and on the process target its
// processes.
func (c *corpusProject) leftovers() []string {
	var left []string
	for _, args := range [][]string{
		{"ps", "-aq", "--filter", "name=" + c.stack},
		{"network", "ls", "-q", "--filter", "name=" + c.stack},
		{"volume", "ls", "-q", "--filter", "name=" + c.stack},
	} {
		out, err := exec.Command("docker", args...).Output()
		if err != nil {
			c.t.Errorf("docker %v: %v", args, err)
			continue
		}
		for _, id := range strings.Fields(string(out)) {
			left = append(left, args[0]+" "+id)
		}
	}
	if c.kind == "process" {
		left = append(left, c.project.leftovers()...)
	}
	return left
}

func (c *corpusProject) removeLeftovers() {
	for _, args := range [][]string{
		{"ps", "-aq", "--filter", "name=" + c.stack},
		{"network", "ls", "-q", "--filter", "name=" + c.stack},
		{"volume", "ls", "-q", "--filter", "name=" + c.stack},
	} {
		out, _ := exec.Command("docker", args...).Output()
		for _, id := range strings.Fields(string(out)) {
			switch args[0] {
			case "ps":
				_ = exec.Command("docker", "rm", "-f", "-v", id).Run()
			default:
				_ = exec.Command("docker", args[0], "rm", id).Run()
			}
		}
	}
}

// hasHealth says Compose (or x-ladder) gives the service a health check.
func hasHealth(s types.ServiceConfig) bool {
	if hc := s.HealthCheck; hc != nil && !hc.Disable && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
		return true
	}
	x, ok := s.Extensions["x-ladder"].(map[string]any)
	return ok && x["health"] != nil
}
