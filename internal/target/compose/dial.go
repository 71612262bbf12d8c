package compose

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/tlsconfig"

	"github.com/ladderhq/ladder/internal/target"
)

// HostOf is the address of the engine e names: its Host, else
// DOCKER_HOST, else the local socket. Releases record it.
func HostOf(e target.Engine) string {
	if e.Host != "" {
		return e.Host
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return client.DefaultDockerHost
}

// Dial returns a client for engine e after checking it answers; the zero
// Engine is Connect's (DOCKER_HOST and its TLS variables, or the local
// socket). The API version is negotiated down to what the engine speaks.
// An ssh:// engine is reached by running `docker system dial-stdio` on
// the remote host over ssh, as the docker CLI does.
func Dial(ctx context.Context, e target.Engine) (*client.Client, error) {
	if e.Host == "" {
		return Connect(ctx)
	}
	opts := []client.Opt{client.WithAPIVersionNegotiation()}
	switch {
	case strings.HasPrefix(e.Host, "ssh://"):
		if e.TLS() {
			return nil, &UnreachableError{Site: true, Host: e.Host, Err: fmt.Errorf("TLS settings do not apply to an ssh:// engine")}
		}
		helper, err := connhelper.GetConnectionHelper(e.Host)
		if err != nil {
			return nil, &UnreachableError{Site: true, Host: e.Host, Err: err}
		}
		opts = append(opts,
			client.WithHTTPClient(&http.Client{Transport: &http.Transport{DialContext: helper.Dialer}}),
			client.WithHost(helper.Host), client.WithDialContext(helper.Dialer))
	case e.TLS():
		cfg, err := tlsconfig.Client(tlsconfig.Options{
			CAFile: e.CA, CertFile: e.Cert, KeyFile: e.Key,
			InsecureSkipVerify: e.Insecure, ExclusiveRootPools: true,
		})
		if err != nil {
			return nil, &UnreachableError{Site: true, Host: e.Host, Err: fmt.Errorf("TLS: %w", err)}
		}
		// The transport first: WithHost sets it up for the host's
		// protocol, and a transport with a TLS config makes it https.
		opts = append(opts,
			client.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}),
			client.WithHost(e.Host))
	default:
		opts = append(opts, client.WithHost(e.Host))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, &UnreachableError{Site: true, Host: e.Host, Err: err}
	}
	if _, err := c.Ping(ctx); err != nil {
		c.Close()
		return nil, &UnreachableError{Site: true, Host: e.Host, Err: err}
	}
	return c, nil
}
