package buildkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	bkclient "github.com/moby/buildkit/client"
)

// Kinds of BuildKit a Client talks to.
const (
	KindEngine  = "engine"  // the Docker engine's embedded BuildKit
	KindAddress = "address" // a buildkitd at an address
)

// EngineDialer is the part of the Docker Engine API client that reaches
// the engine's BuildKit; *client.Client of the Docker SDK satisfies it.
type EngineDialer interface {
	DialHijack(ctx context.Context, url, proto string, meta map[string][]string) (net.Conn, error)
}

// Client is a connection to one BuildKit daemon. It is safe for concurrent
// use: builds run in parallel over it.
type Client struct {
	c    *bkclient.Client
	kind string
	addr string
	// workers describes the daemon's workers, for messages ("oci/runc").
	workers string
}

// Kind is KindEngine or KindAddress.
func (c *Client) Kind() string { return c.kind }

// String names the BuildKit for people: "the Docker engine's BuildKit" or
// "BuildKit at unix:///...".
func (c *Client) String() string {
	if c.kind == KindEngine {
		return "the Docker engine's BuildKit"
	}
	return "BuildKit at " + c.addr
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }

// probeTimeout bounds the first request to a BuildKit: a daemon that does
// not answer within it is taken as absent.
const probeTimeout = 10 * time.Second

// ErrUnavailable is wrapped by the errors of ConnectEngine when the engine
// has no BuildKit to offer (an engine too old, or one that refuses the
// /grpc endpoint), the case where the classic builder is the fallback.
var ErrUnavailable = errors.New("no BuildKit in the Docker engine")

// ErrNoEngine is wrapped by the errors of ConnectEngine when the Docker
// engine itself does not answer.
var ErrNoEngine = errors.New("Docker engine not reachable")

// UnavailableError is ConnectEngine's error for an engine without
// BuildKit; Cause is what the engine answered.
type UnavailableError struct{ Cause string }

func (e *UnavailableError) Error() string        { return ErrUnavailable.Error() + " (" + e.Cause + ")" }
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

func unavailable(err error) error {
	msg := errMessage(err)
	// What the dialer met says more than gRPC's wrapping of it.
	if _, rest, ok := strings.Cut(msg, "Error while dialing: "); ok {
		msg = strings.TrimSuffix(rest, `"`)
	}
	return &UnavailableError{Cause: msg}
}

// ConnectEngine connects to the BuildKit embedded in the Docker engine d
// talks to, the way buildx's docker driver does, and checks that it
// answers.
func ConnectEngine(ctx context.Context, d EngineDialer) (*Client, error) {
	// The last dial's error tells an engine that answered without BuildKit
	// (it refuses the upgrade) from one that did not answer at all.
	var mu sync.Mutex
	var dialErr error
	c, err := bkclient.New(ctx, "",
		bkclient.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			conn, err := d.DialHijack(ctx, "/grpc", "h2c", nil)
			mu.Lock()
			dialErr = err
			mu.Unlock()
			return conn, err
		}),
		bkclient.WithSessionDialer(func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
			return d.DialHijack(ctx, "/session", proto, meta)
		}),
	)
	if err != nil {
		return nil, unavailable(err)
	}
	bc := &Client{c: c, kind: KindEngine}
	if err := bc.probe(ctx); err != nil {
		c.Close()
		mu.Lock()
		defer mu.Unlock()
		if dialErr != nil && !strings.Contains(dialErr.Error(), "unable to upgrade") {
			return nil, fmt.Errorf("%w: %w", ErrNoEngine, dialErr)
		}
		return nil, unavailable(err)
	}
	return bc, nil
}

// Connect connects to the BuildKit daemon at addr (unix://, tcp://, or
// any address the moby/buildkit client takes) and checks that it answers.
func Connect(ctx context.Context, addr string) (*Client, error) {
	c, err := bkclient.New(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("BuildKit at %s: %w", addr, err)
	}
	bc := &Client{c: c, kind: KindAddress, addr: addr}
	if err := bc.probe(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("BuildKit at %s does not answer: %w", addr, err)
	}
	return bc, nil
}

// probe lists the daemon's workers: the oldest request every BuildKit
// serves (Info is newer than the BuildKit of Docker 20.10), and one that
// fails fast when the endpoint is not a BuildKit.
func (c *Client) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	ws, err := c.c.ListWorkers(ctx)
	if err != nil {
		return err
	}
	if len(ws) == 0 {
		return errors.New("it has no workers")
	}
	var names []string
	for _, w := range ws {
		if v := w.Labels["org.mobyproject.buildkit.worker.executor"]; v != "" {
			names = append(names, v)
		}
	}
	c.workers = strings.Join(names, ",")
	return nil
}
