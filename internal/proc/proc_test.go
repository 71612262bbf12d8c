package proc

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestSelfIsAlive(t *testing.T) {
	if !Alive(Self()) {
		t.Fatalf("Alive(Self()=%q) = false", Self())
	}
	if PID(Self()) != os.Getpid() {
		t.Fatalf("PID(Self()) = %d, want %d", PID(Self()), os.Getpid())
	}
}

func TestDeadAndReusedOwners(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	for _, owner := range []string{
		"", "garbage", "0/1", "-1/5",
		// a finished process
		itoa(cmd.Process.Pid) + "/1",
		// this PID but another start time: the PID was reused
		itoa(os.Getpid()) + "/1",
	} {
		if Alive(owner) {
			t.Errorf("Alive(%q) = true, want false", owner)
		}
	}
}

func TestEnviron(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	cmd.Env = []string{"LADDER_SLOT=1-abc", "X=y=z"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// The kernel fills /proc/PID/environ a moment after exec returns.
	var env map[string]string
	for range 100 {
		if env = Environ(cmd.Process.Pid); len(env) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if env["LADDER_SLOT"] != "1-abc" || env["X"] != "y=z" {
		t.Fatalf("Environ = %v", env)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// A child killed but not yet waited for is a zombie: signal 0 still
// reaches it, yet it is dead and must count so.
func TestZombieIsDead(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer func() { _ = cmd.Wait() }()
	owner := itoa(pid) + "/" + strconv.FormatUint(startTime(pid), 10)
	if !Alive(owner) || !Running(pid) {
		t.Fatalf("a running child is not alive: %q", owner)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Not reaped: wait for the kernel to make it a zombie.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if state, _ := stat(pid); state == 'Z' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed child never became a zombie")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if Alive(owner) {
		t.Errorf("Alive(%q) = true for a zombie", owner)
	}
	if Running(pid) {
		t.Errorf("Running(%d) = true for a zombie", pid)
	}
}

// An owner names its host: this host's owners, and those recorded before
// hosts were, are judged here; another host's are not this host's to
// judge.
func TestHere(t *testing.T) {
	for _, tc := range []struct {
		owner, self string
		here        bool
	}{
		{Owner(), Self(), true},
		{Self(), Self(), true},
		{"build-7.example.net:" + Self(), Self(), false},
		{"other:1/2", "1/2", false},
	} {
		self, here := Here(tc.owner)
		if self != tc.self || here != tc.here {
			t.Errorf("Here(%q) = %q, %v; want %q, %v", tc.owner, self, here, tc.self, tc.here)
		}
	}
	if self, here := Here(Owner()); !here || !Alive(self) {
		t.Errorf("this process, by Owner(): here %v, alive %v", here, Alive(self))
	}
}
