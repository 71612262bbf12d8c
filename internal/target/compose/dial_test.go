package compose

import (
	"errors"
	"strings"
	"testing"

	"github.com/ladderhq/ladder/internal/dockertest"
	"github.com/ladderhq/ladder/internal/target"
)

// TestDialSiteEngine reaches a second engine by the host a site names,
// over TCP and over its socket, and reports an engine that does not
// answer as the site's.
func TestDialSiteEngine(t *testing.T) {
	e := dockertest.Start(t)
	for _, host := range []string{e.TCP, e.Socket} {
		c, err := Dial(t.Context(), target.Engine{Host: host})
		if err != nil {
			t.Fatalf("Dial %s: %v", host, err)
		}
		info, err := c.Info(t.Context())
		c.Close()
		if err != nil || info.DockerRootDir != e.DataRoot {
			t.Errorf("Dial %s reached root %q (%v), want the second engine's %q", host, info.DockerRootDir, err, e.DataRoot)
		}
	}
	if got := HostOf(target.Engine{Host: e.TCP}); got != e.TCP {
		t.Errorf("HostOf = %q, want %q", got, e.TCP)
	}

	var ue *UnreachableError
	_, err := Dial(t.Context(), target.Engine{Host: "tcp://127.0.0.1:1"})
	if !errors.As(err, &ue) || !ue.Site || !strings.Contains(err.Error(), "target.docker.host") {
		t.Errorf("Dial of a closed port: error = %v, want the site's engine named unreachable", err)
	}
	_, err = Dial(t.Context(), target.Engine{Host: "ssh://deploy@example.invalid", CA: "/ca.pem"})
	if err == nil || !strings.Contains(err.Error(), "TLS settings do not apply to an ssh:// engine") {
		t.Errorf("Dial ssh with TLS files: error = %v", err)
	}
	_, err = Dial(t.Context(), target.Engine{Host: e.TCP, CA: "/nonexistent/ca.pem"})
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("Dial with a missing CA file: error = %v", err)
	}
}

// TestDialTLSEngine reaches an engine that takes only TLS with a client
// certificate, with the files a site's target.docker.tls names; without
// them, or without the CA that signed the engine's certificate, it does
// not get in.
func TestDialTLSEngine(t *testing.T) {
	e := dockertest.StartTLS(t)
	good := target.Engine{Host: e.TCP, CA: e.TLS.CA, Cert: e.TLS.Cert, Key: e.TLS.Key}
	c, err := Dial(t.Context(), good)
	if err != nil {
		t.Fatalf("Dial with the client certificate: %v", err)
	}
	info, err := c.Info(t.Context())
	c.Close()
	if err != nil || info.DockerRootDir != e.DataRoot {
		t.Errorf("Dial over TLS reached root %q (%v), want %q", info.DockerRootDir, err, e.DataRoot)
	}
	// insecure: the engine's certificate is not checked (no CA given).
	c, err = Dial(t.Context(), target.Engine{Host: e.TCP, Cert: e.TLS.Cert, Key: e.TLS.Key, Insecure: true})
	if err != nil {
		t.Errorf("Dial insecure with the client certificate: %v", err)
	} else {
		c.Close()
	}
	for name, eng := range map[string]target.Engine{
		"plain":          {Host: e.TCP},
		"no client cert": {Host: e.TCP, CA: e.TLS.CA},
		"unknown CA":     {Host: e.TCP, CA: e.TLS.Cert, Cert: e.TLS.Cert, Key: e.TLS.Key},
	} {
		if c, err := Dial(t.Context(), eng); err == nil {
			c.Close()
			t.Errorf("Dial %s: the TLS engine let it in", name)
		}
	}
}
