package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// ShutdownTimeout bounds graceful shutdown on SIGTERM/SIGINT: in-flight
// requests get this long to finish before connections are closed.
const ShutdownTimeout = 5 * time.Second

// HealthcheckTimeout bounds the -healthcheck probe. It stays under the
// demo's healthcheck timeout (10s in compose.yaml), so the probe says why
// it failed before the engine kills it, yet is long enough for a busy
// machine to answer.
const HealthcheckTimeout = 8 * time.Second

// SetupFunc registers a service's routes. An error means the service is
// misconfigured (for example an invalid USERS_URL) and stops start-up
// with exit status 2.
type SetupFunc func(*Service) error

// Main runs the service called name until SIGTERM or SIGINT and exits the
// process with Run's status.
func Main(name string, setup SetupFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := Run(ctx, name, os.Args[1:], os.Getenv, os.Stderr, setup)
	stop()
	os.Exit(code)
}

// Run is Main without the process: it serves until ctx is done and returns
// the exit status: 0 after a graceful shutdown or a passing health check,
// 1 on a runtime failure (including an injected crash or a failing health
// check) and 2 on a usage or configuration error.
func Run(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, setup SetupFunc) int {
	return run(ctx, runOpts{name: name, args: args, getenv: getenv, stderr: stderr, setup: setup})
}

type runOpts struct {
	name   string
	args   []string
	getenv func(string) string
	stderr io.Writer
	setup  SetupFunc
	ready  func(addr net.Addr) // called once listening; for tests
}

func run(ctx context.Context, o runOpts) int {
	fs := flag.NewFlagSet(o.name, flag.ContinueOnError)
	fs.SetOutput(o.stderr)
	healthcheck := fs.Bool("healthcheck", false, "probe http://127.0.0.1:$PORT/healthz and exit 0 if it answers 200, 1 otherwise")
	if err := fs.Parse(o.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(o.stderr, "%s: unexpected arguments: %q\n", o.name, fs.Args())
		return 2
	}

	// The snapshot goes on every line, including configuration errors, so
	// that a log aggregated across deployments says which build spoke.
	logger := slog.New(slog.NewTextHandler(o.stderr, nil)).
		With("service", o.name, "snapshot", o.getenv("LADDER_SNAPSHOT"))

	if *healthcheck {
		return probe(ctx, logger, o.getenv("PORT"))
	}

	cfg, err := LoadConfig(o.name, o.getenv)
	if err != nil {
		logger.Error("invalid configuration", "err", err)
		return 2
	}
	if cfg.Faults.Crash.OnStart {
		logger.Error("fault injection: crashing on start")
		return 1
	}
	s := New(cfg, logger)
	if err := o.setup(s); err != nil {
		logger.Error("invalid configuration", "err", err)
		return 2
	}

	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		logger.Error("listen failed", "err", err)
		return 1
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	logger.Info("listening", "addr", ln.Addr().String(), "environment", cfg.Environment, "site", cfg.Site, "seed", cfg.Seed)
	if cfg.Faults.Active() {
		logger.Warn("fault injection enabled", "faults", cfg.Faults)
	}
	if o.ready != nil {
		o.ready(ln.Addr())
	}

	var crash <-chan time.Time
	if d := cfg.Faults.Crash.After; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		crash = t.C
	}

	select {
	case err := <-errc:
		logger.Error("server failed", "err", err)
		return 1
	case <-crash:
		// Die like a real crash: no graceful shutdown.
		logger.Error("fault injection: crashing after " + cfg.Faults.Crash.After.String())
		srv.Close()
		return 1
	case <-ctx.Done():
	}

	logger.Info("shutting down", "timeout", ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still running after the limit (e.g. a long
		// FAULT_LATENCY) are cut off; the shutdown itself was requested,
		// so this is still a clean exit.
		logger.Warn("graceful shutdown timed out; closing connections", "err", err)
		srv.Close()
	}
	logger.Info("stopped")
	return 0
}

// probe implements -healthcheck.
func probe(ctx context.Context, logger *slog.Logger, portEnv string) int {
	port, err := parsePort(portEnv, false)
	if err != nil {
		logger.Error("healthcheck failed", "err", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, HealthcheckTimeout)
	defer cancel()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		logger.Error("healthcheck failed", "err", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		logger.Error("healthcheck failed", "url", url, "err", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		logger.Error("healthcheck failed", "url", url, "status", resp.StatusCode)
		return 1
	}
	return 0
}
