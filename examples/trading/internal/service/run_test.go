package service

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's and the test's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noSetup(*Service) error { return nil }

func TestRunConfigErrorsExit2(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad knob", nil, map[string]string{"FAULT_ERROR_RATE": "2"}, "FAULT_ERROR_RATE"},
		{"bad port", nil, map[string]string{"PORT": "eighty"}, "PORT"},
		{"unknown flag", []string{"-nope"}, nil, "nope"},
		{"stray argument", []string{"serve"}, nil, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out syncBuffer
			code := Run(context.Background(), "users", tt.args, EnvMap(tt.env), &out, noSetup)
			if code != 2 {
				t.Errorf("exit = %d, want 2", code)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output %q lacks %q", out.String(), tt.want)
			}
		})
	}
}

func TestRunSetupErrorExit2(t *testing.T) {
	var out syncBuffer
	setup := func(s *Service) error { _, err := url.Parse("::"); return err }
	if code := Run(context.Background(), "web", nil, EnvMap(map[string]string{"PORT": "0"}), &out, setup); code != 2 {
		t.Errorf("exit = %d, want 2", code)
	}
}

func TestRunCrashOnStart(t *testing.T) {
	var out syncBuffer
	env := map[string]string{"FAULT_CRASH": "start", "LADDER_SNAPSHOT": "snapX", "PORT": "0"}
	if code := Run(context.Background(), "users", nil, EnvMap(env), &out, noSetup); code != 1 {
		t.Errorf("exit = %d, want 1", code)
	}
	log := out.String()
	if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, `msg="fault injection: crashing on start"`) || !strings.Contains(log, "snapshot=snapX") {
		t.Errorf("log = %q", log)
	}
}

// start runs the service in the background and returns its base URL and
// a channel with Run's exit status.
func start(t *testing.T, ctx context.Context, env map[string]string, out *syncBuffer) (string, <-chan int) {
	t.Helper()
	env["PORT"] = "0"
	addrc := make(chan net.Addr, 1)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, runOpts{
			name: "users", getenv: EnvMap(env), stderr: out,
			setup: func(s *Service) error {
				s.HandleFunc("GET /api/slow", func(w http.ResponseWriter, r *http.Request) {
					time.Sleep(100 * time.Millisecond)
				})
				return nil
			},
			ready: func(a net.Addr) { addrc <- a },
		})
	}()
	select {
	case a := <-addrc:
		_, port, _ := net.SplitHostPort(a.String())
		return "http://127.0.0.1:" + port, done
	case code := <-done:
		t.Fatalf("exited early with %d: %s", code, out.String())
	case <-time.After(5 * time.Second):
		t.Fatal("service did not start")
	}
	return "", nil
}

func TestRunGracefulShutdown(t *testing.T) {
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	base, done := start(t, ctx, map[string]string{"LADDER_SNAPSHOT": "s9"}, &out)

	// A request in flight when the signal arrives still completes.
	result := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + "/api/slow")
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	time.Sleep(30 * time.Millisecond)
	cancel()
	if code := <-result; code != 200 {
		t.Errorf("in-flight request got %d", code)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit = %d, want 0", code)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("no exit after shutdown")
	}
	// Every log line carries the snapshot.
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.Contains(line, "snapshot=s9") {
			t.Errorf("log line without snapshot: %s", line)
		}
	}
	if !strings.Contains(out.String(), "msg=listening") || !strings.Contains(out.String(), "addr=") {
		t.Errorf("no listening line: %s", out.String())
	}
}

func TestRunCrashAfter(t *testing.T) {
	var out syncBuffer
	base, done := start(t, context.Background(), map[string]string{"FAULT_CRASH": "after:200ms"}, &out)
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz before crash: %v %v", resp, err)
	}
	select {
	case code := <-done:
		if code != 1 {
			t.Errorf("exit = %d, want 1", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not crash")
	}
	if !strings.Contains(out.String(), "fault injection: crashing after 200ms") {
		t.Errorf("log = %s", out.String())
	}
}

func TestHealthcheckFlag(t *testing.T) {
	tests := []struct {
		name string
		code int
		want int
	}{
		{"healthy", 200, 0},
		{"unhealthy", 503, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/healthz" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tt.code)
			}))
			defer srv.Close()
			u, _ := url.Parse(srv.URL)
			env := map[string]string{"PORT": u.Port(), "FAULT_CRASH": "start"} // the probe ignores faults
			var out syncBuffer
			if got := Run(context.Background(), "users", []string{"-healthcheck"}, EnvMap(env), &out, noSetup); got != tt.want {
				t.Errorf("exit = %d, want %d (%s)", got, tt.want, out.String())
			}
		})
	}

	t.Run("nothing listening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		ln.Close()
		var out syncBuffer
		if got := Run(context.Background(), "users", []string{"-healthcheck"}, EnvMap(map[string]string{"PORT": port}), &out, noSetup); got != 1 {
			t.Errorf("exit = %d, want 1", got)
		}
	})
}
