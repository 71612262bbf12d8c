package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStateDirKeepsItselfOutOfGit checks with a real git repository that
// nothing ladder keeps in its state directory shows up as a change to
// commit, while the project's own files still do.
func TestStateDirKeepsItselfOutOfGit(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git not installed: apt-get install git")
		}
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, append([]string{"-C", repo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git("init", "-q")
	state := filepath.Join(repo, ".ladder")
	if err := makeStateDir(state); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ladder.db", "artifacts/index.json", "keys/signing.key"} {
		p := filepath.Join(state, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "compose.yaml"), []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(git("status", "--porcelain", "--untracked-files=all")); got != "?? compose.yaml" {
		t.Errorf("git status lists:\n%s\nwant only compose.yaml", got)
	}
}

// TestStateDirLeavesAnExistingOneAlone: a state directory that exists
// already is not given a .gitignore (its owner may have removed it on
// purpose), and a second call changes nothing.
func TestStateDirLeavesAnExistingOneAlone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := makeStateDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".gitignore")); !os.IsNotExist(err) {
		t.Errorf("an existing state directory got a .gitignore (stat: %v)", err)
	}

	fresh := filepath.Join(t.TempDir(), "a", "b")
	if err := makeStateDir(fresh); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fresh, ".gitignore"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := makeStateDir(fresh); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(fresh, ".gitignore")); string(b) != "mine\n" {
		t.Errorf("a second call rewrote .gitignore: %q", b)
	}
}
