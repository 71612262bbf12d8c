package signal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Health is an instance's state as a Compose healthcheck sees it.
type Health string

// Health states, named as Docker names them so that `docker ps` and ladder
// agree on what a word means.
const (
	// HealthStarting: no probe has succeeded yet and not enough have
	// failed to give up.
	HealthStarting Health = "starting"
	// HealthHealthy: the last probe succeeded, or fewer than Retries have
	// failed since.
	HealthHealthy Health = "healthy"
	// HealthUnhealthy: Retries probes in a row failed (outside the start
	// period).
	HealthUnhealthy Health = "unhealthy"
	// HealthStopped: the instance is not running, so nothing is probed.
	HealthStopped Health = "stopped"
)

// ProbeFunc is one health probe. It must honour ctx's deadline.
type ProbeFunc func(ctx context.Context) (ok bool, detail string)

// bodySnippet is how much of a failing response ProbeHTTP quotes: enough
// for the usual one-line reason, short enough for an event message.
const bodySnippet = 200

// ProbeHTTP checks an HTTP health endpoint: healthy on any 2xx answer
// within ctx's deadline. detail says what was seen ("HTTP 200") or why the
// probe failed: "HTTP 503: <first 200 bytes of the body>", "connection
// refused", "timeout after 2s", or the transport's error. A nil client
// means http.DefaultClient; the deadline comes from ctx, so the client
// needs no timeout of its own.
func ProbeHTTP(ctx context.Context, client *http.Client, url string) (ok bool, detail string) {
	if client == nil {
		client = http.DefaultClient
	}
	budget, hasBudget := budgetOf(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, describeError(ctx, err, budget, hasBudget)
	}
	defer func() {
		// Drain a little so the connection can be reused by the next
		// probe, without reading an endless body.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return true, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, bodySnippet))
	text := strings.TrimSpace(strings.ToValidUTF8(string(body), string(utf8.RuneError)))
	if text == "" {
		return false, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return false, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, text)
}

// ProbeCommand runs a healthcheck command in Compose's CMD form (argv[0]
// is the program, no shell) in dir with env (nil: ladder's own
// environment), and is healthy when it exits 0 within ctx's deadline.
// detail carries the last line of the command's combined output, which is
// where a check script says what is wrong, after "exit status N: " when it
// failed.
func ProbeCommand(ctx context.Context, argv []string, env []string, dir string) (ok bool, detail string) {
	if len(argv) == 0 {
		return false, "empty healthcheck command"
	}
	budget, hasBudget := budgetOf(ctx)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	out := &tailBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	// A check that leaves a child holding its output open (sh -c 'x &')
	// must not hold the probe past its deadline.
	cmd.WaitDelay = 500 * time.Millisecond
	err := cmd.Run()
	last := out.lastLine()
	switch {
	case err == nil:
		if last == "" {
			return true, "exit status 0"
		}
		return true, last
	case ctx.Err() != nil:
		d := describeError(ctx, ctx.Err(), budget, hasBudget)
		if last != "" {
			d += ": " + last
		}
		return false, d
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		d := fmt.Sprintf("exit status %d", exit.ExitCode())
		if exit.ExitCode() < 0 {
			d = exit.Error() // killed by a signal
		}
		if last != "" {
			d += ": " + last
		}
		return false, d
	}
	return false, err.Error()
}

// budgetOf is how long ctx allows from now, for "timeout after" messages.
func budgetOf(ctx context.Context) (time.Duration, bool) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	return time.Until(deadline), true
}

// describeError turns a probe's failure into the short phrase people
// recognise, rather than Go's nested error chain.
func describeError(ctx context.Context, err error, budget time.Duration, hasBudget bool) string {
	var netErr net.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &netErr) && netErr.Timeout():
		if hasBudget {
			return "timeout after " + roundBudget(budget).String()
		}
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		// The URL is known to the caller; keep only the cause.
		return uerr.Err.Error()
	}
	return err.Error()
}

// roundBudget undoes the few microseconds between setting a deadline and
// reading it, so a 2s timeout reads "2s", not "1.999987s".
func roundBudget(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// tailBuffer keeps the last max bytes written to it: only the end of a
// check's output is reported, and a chatty check must not grow memory.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// lastLine is the last non-blank line written, trimmed.
func (t *tailBuffer) lastLine() string {
	lines := bytes.Split(bytes.TrimSpace(t.buf), []byte("\n"))
	last := strings.TrimSpace(string(lines[len(lines)-1]))
	return strings.ToValidUTF8(last, string(utf8.RuneError))
}
