package signal

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProbeHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/long", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(strings.Repeat("x", 300)))
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/health"
	l.Close()

	cases := []struct {
		name    string
		url     string
		timeout time.Duration
		ok      bool
		detail  string
	}{
		{"200", srv.URL + "/ok", 2 * time.Second, true, "HTTP 200"},
		{"503", srv.URL + "/down", 2 * time.Second, false, "HTTP 503: database unreachable"},
		{"body cut at 200 bytes", srv.URL + "/long", 2 * time.Second, false, "HTTP 500: " + strings.Repeat("x", 200)},
		{"hanging server", srv.URL + "/hang", 100 * time.Millisecond, false, "timeout after 100ms"},
		{"closed port", closed, 2 * time.Second, false, "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			ok, detail := ProbeHTTP(ctx, srv.Client(), c.url)
			if ok != c.ok || detail != c.detail {
				t.Errorf("ProbeHTTP = %v, %q; want %v, %q", ok, detail, c.ok, c.detail)
			}
		})
	}
}

func TestProbeHTTPTimeoutMessage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	if testing.Short() {
		t.Skip("takes 2s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if ok, detail := ProbeHTTP(ctx, nil, srv.URL); ok || detail != "timeout after 2s" {
		t.Errorf("ProbeHTTP = %v, %q", ok, detail)
	}
}

func TestProbeCommand(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		argv    []string
		env     []string
		timeout time.Duration
		ok      bool
		detail  string
	}{
		{"true", []string{"true"}, nil, 5 * time.Second, true, "exit status 0"},
		{"false", []string{"false"}, nil, 5 * time.Second, false, "exit status 1"},
		{"last line of output", []string{"sh", "-c", "echo starting; echo boom; exit 1"}, nil, 5 * time.Second, false, "exit status 1: boom"},
		{"stderr counts", []string{"sh", "-c", "echo ok; echo 'db down' >&2; exit 2"}, nil, 5 * time.Second, false, "exit status 2: db down"},
		{"success says its last line", []string{"sh", "-c", "echo ready; echo"}, nil, 5 * time.Second, true, "ready"},
		{"env and dir", []string{"sh", "-c", `test -e marker && echo "$PROBE_VAR"`}, []string{"PROBE_VAR=seen"}, 5 * time.Second, true, "seen"},
		{"timeout", []string{"sh", "-c", "echo waiting; sleep 5"}, nil, 200 * time.Millisecond, false, "timeout after 200ms: waiting"},
		{"missing program", []string{"no-such-healthcheck-program"}, nil, 5 * time.Second, false, `exec: "no-such-healthcheck-program": executable file not found in $PATH`},
		{"empty", nil, nil, 5 * time.Second, false, "empty healthcheck command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			start := time.Now()
			ok, detail := ProbeCommand(ctx, c.argv, c.env, dir)
			if ok != c.ok || detail != c.detail {
				t.Errorf("ProbeCommand(%q) = %v, %q; want %v, %q", c.argv, ok, detail, c.ok, c.detail)
			}
			if took := time.Since(start); took > c.timeout+time.Second {
				t.Errorf("took %v, deadline %v", took, c.timeout)
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	b.Write([]byte("first line\nsecond"))
	b.Write([]byte(" end\n\n"))
	if got := b.lastLine(); got != "nd end" {
		t.Errorf("lastLine = %q, want %q (only the last 8 bytes are kept)", got, "nd end")
	}
	if got := (&tailBuffer{max: 8}).lastLine(); got != "" {
		t.Errorf("empty lastLine = %q", got)
	}
}
