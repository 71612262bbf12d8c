package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/ladderhq/ladder/internal/api"
	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/promote"
	"github.com/ladderhq/ladder/internal/statefile"
	"github.com/ladderhq/ladder/internal/store"
	"syscall"
)

// Info is what a running agent writes to STATE/agent-ENV.json so other
// ladder commands can find it.
type Info struct {
	PID int `json:"pid"`
	// Holder is the agent's lease holder identity; its instance is on
	// every answer of the agent (header Ladder-Instance).
	Holder  store.Holder `json:"holder"`
	URL     string       `json:"url"`
	Started time.Time    `json:"started"`
	// Target is the kind of target the agent deploys with ("compose",
	// "process"), so a command can check a snapshot fits it without a
	// request.
	Target string `json:"target,omitempty"`
}

func infoPath(stateDir, env string) string {
	return filepath.Join(stateDir, "agent-"+env+".json")
}

func writeInfo(stateDir, env string, info Info) error {
	return statefile.Write(infoPath(stateDir, env), info)
}

// removeInfo removes env's agent file while it names holder: a newer agent
// may have replaced it.
func removeInfo(stateDir, env string, holder store.Holder) {
	statefile.RemoveIfOwned(infoPath(stateDir, env), func(i Info) bool { return i.Holder == holder })
}

func readInfo(stateDir, env string) (Info, error) {
	return statefile.Read[Info](infoPath(stateDir, env))
}

// instanceHeader carries the agent's instance ID on every answer.
const instanceHeader = "Ladder-Instance"

// Find returns a client for the agent running env, if one answers at the
// address its file gives with the instance ID its file names. Nothing is
// judged from PIDs: a killed agent does not answer, and whatever took its
// address since is not it. A file whose agent does not answer is removed.
func Find(ctx context.Context, stateDir, env string) (*Client, bool) {
	info, err := readInfo(stateDir, env)
	if err != nil {
		return nil, false
	}
	c := &Client{URL: info.URL, Info: info, Token: auth.Credential(stateDir)}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		if errors.Is(err, errNotThisAgent) || errors.Is(err, syscall.ECONNREFUSED) {
			removeInfo(stateDir, env, info.Holder)
		}
		return nil, false
	}
	return c, true
}

var errNotThisAgent = errors.New("another process answers at the agent's address")

// Client talks to a running agent.
type Client struct {
	URL  string
	Info Info
	HTTP *http.Client
	// Token is the bearer token changes are sent with (Find sets the
	// one this machine uses for the project, auth.Credential). A request
	// whose context carries a caller's credential (auth.WithCredential) is
	// sent with that one instead: an agent acting for someone acts as
	// them.
	Token string
}

func (c *Client) credential(ctx context.Context) string {
	if v := auth.CredentialFrom(ctx); v != "" {
		return v
	}
	return c.Token
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Ping checks the agent answers, and is the agent Info names.
func (c *Client) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get(instanceHeader) != c.Info.Holder.Instance {
		return errNotThisAgent
	}
	return nil
}

// Status fetches the environment's status.
func (c *Client) Status(ctx context.Context) (*api.Status, error) {
	var st api.Status
	return &st, c.do(ctx, http.MethodGet, "/api/v1/status", nil, &st)
}

// Deploy asks the agent to deploy a snapshot and waits for the outcome.
// A failed release comes back as a result with Error set and a non-nil
// error.
func (c *Client) Deploy(ctx context.Context, req api.DeployRequest) (*api.DeployResult, error) {
	var res api.DeployResult
	err := c.do(ctx, http.MethodPost, "/api/v1/deploy", req, &res)
	if err == nil && res.Error != "" {
		return &res, errors.New(res.Error)
	}
	return &res, err
}

// Events returns the agent's events after the given ID (oldest first), or,
// with after 0, the newest one only (to learn where the stream is).
func (c *Client) Events(ctx context.Context, after int64) ([]store.Event, error) {
	var out []store.Event
	path := "/api/v1/events?limit=1"
	if after > 0 {
		path = fmt.Sprintf("/api/v1/events?after=%d&limit=200", after)
	}
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// Down asks the agent to take the environment down and exit, and waits
// until it no longer answers (it stops serving once every site is down).
func (c *Client) Down(ctx context.Context) error {
	if err := c.do(ctx, http.MethodPost, "/api/v1/down", nil, nil); err != nil {
		return err
	}
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("agent (pid %d) still running: %w", c.Info.PID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// APIError is an error answer from the agent.
type APIError struct {
	Status int
	Body   api.Error
}

// Unwrap classifies the answer: 401 and 403 as the auth errors they are,
// a rung's refusal of a snapshot as promote.ErrNotAdmitted.
func (e *APIError) Unwrap() error {
	switch {
	case e.Status == http.StatusUnauthorized:
		return auth.ErrUnauthenticated
	case e.Status == http.StatusForbidden:
		return auth.ErrForbidden
	case e.Body.Code == api.CodeNotAdmitted:
		return promote.ErrNotAdmitted
	}
	return nil
}

// Login asks the agent for a one-time link that opens a dashboard session
// acting as this client's credential; the link is relative to the URL.
func (c *Client) Login(ctx context.Context) (string, time.Time, error) {
	var out struct {
		URL     string    `json:"url"`
		Expires time.Time `json:"expires"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/login", nil, &out); err != nil {
		return "", time.Time{}, err
	}
	return c.URL + out.URL, out.Expires, nil
}

func (e *APIError) Error() string {
	if e.Body.Hint != "" {
		return e.Body.Error + " (" + e.Body.Hint + ")"
	}
	return e.Body.Error
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred := c.credential(ctx); cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("ladder agent at %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		ae := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(data, &ae.Body) != nil || ae.Body.Error == "" {
			ae.Body.Error = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
		}
		return ae
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}
