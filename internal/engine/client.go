package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ladderhq/ladder/internal/statefile"
	"github.com/ladderhq/ladder/internal/store"
)

// maxSocketPath keeps a socket path within what every Unix accepts
// (sun_path is 108 bytes on Linux, 104 on the BSDs).
const maxSocketPath = 100

// maxAnswer bounds an answer the client reads: a page of releases or an
// environment's drift reports fit with room to spare.
const maxAnswer = 8 << 20

// SocketPath is where the engine of stateDir answers: STATE/engine.sock,
// or, when that path is too long for a socket, a name derived from it in
// a directory of the user's own under the temporary directory.
func SocketPath(stateDir string) string {
	p := filepath.Join(stateDir, "engine.sock")
	if len(p) <= maxSocketPath {
		return p
	}
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		abs = stateDir
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), fmt.Sprintf("ladder-%d", os.Getuid()), hex.EncodeToString(sum[:8])+".sock")
}

// listenSocket binds path for its owner only. Whatever was at path is a
// dead engine's: the caller holds the engine lease.
func listenSocket(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("engine socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func infoPath(stateDir string) string { return filepath.Join(stateDir, "engine.json") }

func readInfo(stateDir string) (Info, error) {
	return statefile.Read[Info](infoPath(stateDir))
}

// removeInfo removes engine.json while it names holder (a newer engine may
// have replaced it).
func removeInfo(stateDir string, holder store.Holder) {
	statefile.RemoveIfOwned(infoPath(stateDir), func(i Info) bool { return i.Holder == holder })
}

// Client talks to a running engine: over its socket, or over TCP to a
// server (Dial).
type Client struct {
	Info Info
	// Token is the bearer credential requests carry.
	Token string
	http  *http.Client
	base  string
}

// Dial returns a client for the engine a server answers at (LADDER_SERVER:
// http://HOST:PORT), with token as its credential.
func Dial(server, token string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("%q is not a ladder server address: want http(s)://HOST:PORT", server)
	}
	return &Client{Token: token, base: u.Scheme + "://" + u.Host, http: &http.Client{Timeout: 0}}, nil
}

// Server is where the client sends requests, for messages.
func (c *Client) Server() string {
	if c.base != "" {
		return c.base
	}
	return fmt.Sprintf("the ladder engine (pid %d)", c.Info.PID)
}

var errNotThisEngine = errors.New("another process answers at the engine's socket")

// Find returns a client for the engine engine.json names, if it answers
// with the instance ID the file gives. A file whose engine does not
// answer is removed.
func Find(ctx context.Context, stateDir string) (*Client, bool) {
	info, err := readInfo(stateDir)
	if err != nil {
		return nil, false
	}
	c := newClient(info)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		if errors.Is(err, errNotThisEngine) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist) {
			removeInfo(stateDir, info.Holder)
		}
		return nil, false
	}
	return c, true
}

func newClient(info Info) *Client {
	socket := info.Socket
	return &Client{Info: info, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
}

// Ping checks the engine answers and is the one Info names.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.request(ctx, http.MethodGet, "/healthz", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get(instanceHeader) != c.Info.Holder.Instance {
		return errNotThisEngine
	}
	return nil
}

// Engine fetches the engine's description, with the environments it runs.
func (c *Client) Engine(ctx context.Context) (Info, error) {
	var info Info
	return info, c.do(ctx, http.MethodGet, "/v1/engine", nil, &info)
}

// Run asks the engine to run an environment (ErrStopping: it is on its
// way out, ask a new one).
func (c *Client) Run(ctx context.Context, req RunRequest) (EnvInfo, error) {
	var info EnvInfo
	return info, c.do(ctx, http.MethodPost, "/v1/envs", req, &info)
}

// StatusError is an error answer from the engine.
type StatusError struct {
	Status int
	Msg    string
	// Body is the answer as sent, for callers that read more of it.
	Body []byte
}

func (e *StatusError) Error() string { return e.Msg }

// Is classifies a 503 as ErrStopping.
func (e *StatusError) Is(target error) bool {
	return target == ErrStopping && e.Status == http.StatusServiceUnavailable
}

func (c *Client) request(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.http.Do(req)
}

// newRequest is a request to the engine with the client's credential.
func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	// The host is never dialled (the transport dials the socket); it
	// only fills the request line.
	base := c.base
	if base == "" {
		base = "http://ladder-engine"
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

// Do sends a JSON request to the engine's API and decodes the answer into
// out; an error answer is a *StatusError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.do(ctx, method, path, in, out)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.request(ctx, method, path, in)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Server(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return statusError(resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// statusError is an error answer as a *StatusError.
func statusError(status int, data []byte) error {
	var ae apiError
	if json.Unmarshal(data, &ae) != nil || ae.Error == "" {
		ae.Error = fmt.Sprintf("HTTP %d: %s", status, bytes.TrimSpace(data))
	}
	return &StatusError{Status: status, Msg: ae.Error, Body: data}
}

// Stream opens a stream the engine sends as Server-Sent Events (GET
// path), resuming after lastID when it is not 0. The caller reads and
// closes the body; an error answer is a *StatusError.
func (c *Client) Stream(ctx context.Context, path string, lastID int64) (io.ReadCloser, error) {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(lastID, 10))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Server(), err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		return nil, statusError(resp.StatusCode, data)
	}
	return resp.Body, nil
}

// SpawnOptions say how to start a background engine.
type SpawnOptions struct {
	// Dir is the project directory, StateDir its state directory.
	Dir, StateDir string
	// Args follow `ladder serve --background -C DIR`: the project's
	// --file, --stack and --profile flags.
	Args []string
	// Env is the engine's environment (nil: this process's).
	Env []string
}

// LogPath is the background engine's log.
func LogPath(stateDir string) string { return filepath.Join(stateDir, "logs", "engine.log") }

// Spawn starts a background engine (`ladder serve --background`, in a
// session of its own so it outlives the command and its terminal) and
// waits until an engine answers: the one started, or one another command
// started at the same moment, which won the lease.
func Spawn(ctx context.Context, o SpawnOptions) (*Client, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--background", "-C", o.Dir}, o.Args...)
	logPath := LogPath(o.StateDir)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = o.Dir
	cmd.Env = o.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the ladder engine: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Long enough for a killed engine's lease to lapse first.
	deadline := time.After(20 * time.Second)
	for {
		if c, ok := Find(ctx, o.StateDir); ok {
			return c, nil
		}
		select {
		case err := <-exited:
			if c, ok := Find(ctx, o.StateDir); ok {
				return c, nil
			}
			return nil, fmt.Errorf("the ladder engine exited at start (%v): %s(its log is %s)", err, tailOf(logPath, 5), logPath)
		case <-deadline:
			return nil, fmt.Errorf("the ladder engine did not answer within 20s; its log is %s", logPath)
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// tailOf returns the last n lines of a file, each followed by a newline.
func tailOf(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	// The end of the log is enough; never the whole of a long one.
	const window = 16 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		_, _ = f.Seek(st.Size()-window, io.SeekStart)
	}
	b, _ := io.ReadAll(io.LimitReader(f, window))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
